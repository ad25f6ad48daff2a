"""The activation wizard's steps one by one: what each offers and what each refuses, next to the field."""

import datetime

import pytest

from django.utils import timezone

from accounts.constants import (
    ACTIVATE_SEGMENTS_WITHOUT_MAPPING,
    VIEW_DESTINATIONS,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from personalization.audiences.models import Audience
from personalization.destinations.models import MAX_ATTRIBUTE_MAPPINGS
from tests.destinations.activation_wizard import (
    PLAIN,
    Setup,
    _audiences,
    _dates,
    _errors,
    _mappings,
    today,
)
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DestinationFactory,
    MappingFactory,
    ProfileFieldFactory,
)
from tests.utils.wizard import _wizard_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(sandbox, grant, user, client):
    return Setup(sandbox, grant, user, client)


# Select audiences


def test_only_published_unexpired_audiences_of_the_sandbox_are_offered(setup, other_sandbox):
    AudienceFactory(sandbox=setup.sandbox, name="Draft", status=Audience.Status.DRAFT)
    AudienceFactory(sandbox=setup.sandbox, name="Retired", status=Audience.Status.INACTIVE)
    AudienceFactory(
        sandbox=setup.sandbox,
        name="Old upload",
        origin=Audience.Origin.CUSTOM_UPLOAD,
        expires_at=timezone.now() - datetime.timedelta(days=1),
    )
    AudienceFactory(sandbox=other_sandbox, name="Theirs")
    setup.sign_in()

    wizard = setup.open()

    assert [row.audience.name for row in wizard.form.rows] == ["Germans", "Gold members", "Newsletter upload"]
    assert "1,200" in wizard.content  # size


def test_a_draft_audience_posted_anyway_is_refused(setup):
    draft = AudienceFactory(sandbox=setup.sandbox, name="Draft", status=Audience.Status.DRAFT)
    setup.sign_in()
    wizard = setup.open()

    _wizard_post(wizard, "audiences", _audiences(draft))

    assert wizard.step == "audiences"
    assert "is not one of the available choices" in _errors(wizard, "audiences")[0]


def test_a_first_activation_needs_at_least_one_audience(setup):
    setup.sign_in()
    wizard = setup.open()

    _wizard_post(wizard, "audiences", _audiences())

    assert _errors(wizard, "audiences") == ["Select at least one audience to activate."]


def test_an_edit_may_untick_every_audience_to_stop_returning_them(setup):
    ActivationFactory(destination=setup.destination, audience=setup.gold)
    setup.sign_in()
    wizard = setup.open()

    _wizard_post(wizard, "audiences", _audiences())
    _wizard_post(wizard, "mapping", _mappings())
    _wizard_post(wizard, "schedule", {})
    assert "Gold members" in wizard.content and "Stop returning" in wizard.content
    _wizard_post(wizard, "review")

    assert not setup.destination.activations.exists()


def test_an_audience_activated_before_it_was_unpublished_can_still_be_kept_or_dropped(setup):
    ActivationFactory(destination=setup.destination, audience=setup.gold)
    setup.gold.status = Audience.Status.INACTIVE
    setup.gold.save()
    setup.sign_in()

    wizard = setup.open()

    assert wizard.form["audiences"].value() == [setup.gold.pk]
    assert "Gold members" in [row.audience.name for row in wizard.form.rows]


def test_filtering_by_origin_and_search_hides_rows_but_keeps_their_ticks(setup):
    setup.sign_in()
    wizard = setup.open()

    _wizard_post(
        wizard, "audiences", _audiences(setup.gold, origin="custom_upload", q=""), wizard_goto_step="audiences"
    )

    assert wizard.step == "audiences"
    visible = {row.audience.name: row.visible for row in wizard.form.rows}
    assert visible == {"Germans": False, "Gold members": False, "Newsletter upload": True}
    assert wizard.form["audiences"].value() == [str(setup.gold.pk)]
    _wizard_post(wizard, "audiences", _audiences(setup.gold, q="GOLD"), wizard_goto_step="audiences")
    assert [row.audience.name for row in wizard.form.rows if row.visible] == ["Gold members"]


def test_filtering_before_ticking_anything_shows_no_error_yet(setup):
    setup.sign_in()
    wizard = setup.open()

    _wizard_post(wizard, "audiences", _audiences(q="germ"), wizard_goto_step="audiences")

    assert "Select at least one audience" not in wizard.content


# Mapping


def test_the_mapping_step_offers_only_scalar_fields_of_the_sandbox(setup, other_sandbox):
    ProfileFieldFactory(sandbox=setup.sandbox, path="interests", field_type="array")
    ProfileFieldFactory(sandbox=other_sandbox, path="theirs.field")
    setup.sign_in()
    wizard = setup.open()

    _wizard_post(wizard, "audiences", _audiences(setup.gold))

    assert list(wizard.form.forms[0].fields["source"].queryset) == [setup.country, setup.tier]


def test_a_mapping_row_needs_both_a_source_and_a_target(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))

    _wizard_post(wizard, "mapping", _mappings((setup.tier, ""), (None, "country")))

    assert wizard.step == "mapping"
    first, second = wizard.form.forms[:2]
    assert first.errors["target"] == ["Name the target field for loyalty.status; it becomes the key in the response."]
    assert second.errors["source"] == ["Choose the profile field to send as country."]


def test_a_target_that_is_not_a_json_key_is_refused_on_its_row(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))

    _wizard_post(wizard, "mapping", _mappings((setup.tier, "loyalty tier")))

    assert wizard.form.forms[0].errors["target"][0].startswith("Use 1–64 letters, digits or underscores")


def test_a_target_used_twice_is_refused_on_the_second_row(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))

    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier"), (setup.country, "tier")))

    first, second = wizard.form.forms[:2]
    assert not first.errors
    assert second.errors["target"] == ["Row 1 already sends tier; target names must be unique, they are response keys."]


def test_the_31st_mapping_is_refused_on_its_row_with_the_limit_in_the_message(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))

    rows = [(setup.tier, "attr%02d" % number) for number in range(1, MAX_ATTRIBUTE_MAPPINGS + 2)]
    _wizard_post(wizard, "mapping", _mappings(*rows))

    assert wizard.step == "mapping"
    assert wizard.form.forms[30].errors["target"] == [
        "This would be mapping 31; a destination maps at most 30 attributes."
    ]
    assert not wizard.form.forms[29].errors
    assert wizard.form.non_form_errors() == [
        "31 attributes are mapped, the maximum is 30; remove rows until at most 30 are left."
    ]


def test_thirty_mappings_are_accepted(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))

    rows = [(setup.tier, "attr%02d" % number) for number in range(1, MAX_ATTRIBUTE_MAPPINGS + 1)]
    _wizard_post(wizard, "mapping", _mappings(*rows))

    assert wizard.step == "schedule"


def test_blank_rows_are_ignored_and_there_is_always_an_empty_row_to_fill(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))

    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier")), wizard_goto_step="mapping")

    assert wizard.step == "mapping"
    assert len(wizard.form.forms) == 2 and wizard.form.forms[1]["source"].value() in (None, "")


def test_clearing_a_row_removes_that_mapping_and_changing_its_source_keeps_the_name(setup):
    MappingFactory(destination=setup.destination, source=setup.tier, target="tier")
    MappingFactory(destination=setup.destination, source=setup.tier, target="status")
    ActivationFactory(destination=setup.destination, audience=setup.gold)
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    assert [form["target"].value() for form in wizard.form.forms[:2]] == ["status", "tier"]

    _wizard_post(wizard, "mapping", _mappings((None, ""), (setup.country, "tier")))
    _wizard_post(wizard, "schedule", _dates((setup.gold, None, None)))
    assert "Stop sending" in wizard.content
    _wizard_post(wizard, "review")

    assert list(setup.destination.mappings.values_list("source__path", "target")) == [
        ("homeAddress.countryCode", "tier")
    ]


def test_a_user_who_activates_without_mapping_gets_no_mapping_step_and_mappings_stay(setup):
    MappingFactory(destination=setup.destination, source=setup.tier, target="tier")
    setup.sign_in(VIEW_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS, ACTIVATE_SEGMENTS_WITHOUT_MAPPING)
    wizard = setup.open()

    assert wizard.steps == ["audiences", "schedule", "review"]
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    # A crafted post of mapping data is not a step of this wizard and changes nothing.
    _wizard_post(wizard, "mapping", _mappings((setup.country, "country")))
    assert wizard.step == "schedule"
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), None)))
    assert "Your role activates audiences without mapping" in wizard.content
    _wizard_post(wizard, "review")

    assert list(setup.destination.activations.values_list("audience__name", flat=True)) == ["Gold members"]
    assert list(setup.destination.mappings.values_list("target", flat=True)) == ["tier"]


def test_the_plain_card_has_no_mapping_step(setup):
    plain = DestinationFactory(datastream=setup.web, name="Plain", kind=PLAIN)
    setup.sign_in()

    assert setup.open(plain).steps == ["audiences", "schedule", "review"]


# Audience schedule


def test_new_audiences_start_today_and_existing_ones_keep_their_dates(setup):
    start, end = datetime.date(2030, 1, 1), datetime.date(2030, 2, 1)
    ActivationFactory(destination=setup.destination, audience=setup.gold, start_date=start, end_date=end)
    setup.sign_in()
    wizard = setup.open()

    _wizard_post(wizard, "audiences", _audiences(setup.gold, setup.germans))
    _wizard_post(wizard, "mapping", _mappings())

    form = wizard.form
    assert form["start_%s" % setup.gold.pk.hex].value() == start
    assert form["end_%s" % setup.gold.pk.hex].value() == end
    assert form["start_%s" % setup.germans.pk.hex].value() == today()
    assert form["end_%s" % setup.germans.pk.hex].value() is None
    assert form["show_new_only"].value() is True
    rows = {row.audience.name: row.is_new for row in form.rows}
    assert rows == {"Gold members": False, "Germans": True}


def test_with_no_new_audience_every_row_is_shown(setup):
    ActivationFactory(destination=setup.destination, audience=setup.gold)
    setup.sign_in()
    wizard = setup.open()

    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings())

    assert wizard.form["show_new_only"].value() is False


def test_an_end_date_before_the_start_date_is_refused_next_to_the_end_date(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings())

    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), today() - datetime.timedelta(days=1))))

    assert wizard.step == "schedule"
    assert _errors(wizard, "end_%s" % setup.gold.pk.hex) == ["The end date cannot be before the start date."]


def test_a_date_that_is_not_a_date_is_refused(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings())

    _wizard_post(wizard, "schedule", {"start_%s" % setup.gold.pk.hex: "next tuesday"})

    assert _errors(wizard, "start_%s" % setup.gold.pk.hex) == ["Enter a valid date."]


def test_an_audience_added_after_going_back_gets_its_default_dates(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings())
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), None)), wizard_goto_step="audiences")

    _wizard_post(wizard, "audiences", _audiences(setup.gold, setup.germans))
    _wizard_post(wizard, "mapping", _mappings())

    assert wizard.step == "schedule"
    assert wizard.form["start_%s" % setup.germans.pk.hex].value() == today().isoformat()
