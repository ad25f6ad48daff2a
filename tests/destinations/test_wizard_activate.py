"""The activation wizard through the test client: every step's validation, editing, Back, tabs and permissions."""

import datetime

import pytest

from django.urls import reverse
from django.utils import timezone

from accounts.constants import (
    ACTIVATE_DESTINATIONS,
    ACTIVATE_SEGMENTS_WITHOUT_MAPPING,
    MANAGE_DESTINATIONS,
    VIEW_DESTINATIONS,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from personalization.audiences.models import Audience
from personalization.destinations.models import MAX_ATTRIBUTE_MAPPINGS, AudienceActivation, Destination
from personalization.governance.models import Policy
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    LabelFactory,
    MappingFactory,
    MarketingActionFactory,
    PolicyFactory,
    ProfileFieldFactory,
    UserFactory,
)
from tests.utils.wizard import _wizard_post, open_wizard

pytestmark = pytest.mark.django_db

WITH_ATTRIBUTES = Destination.Kind.WITH_ATTRIBUTES
PLAIN = Destination.Kind.CUSTOM_PERSONALIZATION
ACTIVATOR = (VIEW_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS, ACTIVATE_DESTINATIONS)
TODAY = timezone.localdate()


class Setup:
    """A sandbox with one With Attributes destination, three published audiences and two scalar fields."""

    def __init__(self, sandbox, grant, user, client):
        self.sandbox, self.grant, self.user, self.client = sandbox, grant, user, client
        self.web = DatastreamFactory(sandbox=sandbox, name="Web")
        self.destination = DestinationFactory(
            datastream=self.web, name="Homepage hero", alias="heroBanner", kind=WITH_ATTRIBUTES
        )
        self.gold = AudienceFactory(sandbox=sandbox, name="Gold members", profile_count=1200)
        self.germans = AudienceFactory(sandbox=sandbox, name="Germans")
        self.upload = AudienceFactory(
            sandbox=sandbox,
            name="Newsletter upload",
            origin=Audience.Origin.CUSTOM_UPLOAD,
            expires_at=timezone.now() + datetime.timedelta(days=10),
        )
        self.tier = ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
        self.country = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")

    def sign_in(self, *codenames):
        self.grant(self.user, self.sandbox, *(codenames or ACTIVATOR))
        self.client.force_login(self.user)

    def open(self, destination=None):
        destination = destination or self.destination
        return open_wizard(self.client, reverse("destinations:destination_activate", args=[destination.pk]))

    def open_from_catalog(self, kind=WITH_ATTRIBUTES):
        return open_wizard(self.client, reverse("destinations:destination_activate_kind", args=[kind]))


@pytest.fixture
def setup(sandbox, grant, user, client):
    return Setup(sandbox, grant, user, client)


def _audiences(*audiences, **extra):
    return {"audiences": [audience.pk for audience in audiences], "origin": "", "q": "", **extra}


def _mappings(*rows, total=None):
    data = {"TOTAL_FORMS": total or max(len(rows), 1), "INITIAL_FORMS": 0}
    for index, (source, target) in enumerate(rows):
        data["%d-source" % index] = source.pk if source else ""
        data["%d-target" % index] = target
    return data


def _dates(*rows, show_new_only=False):
    data = {"show_new_only": "on"} if show_new_only else {}
    for audience, start, end in rows:
        data["start_%s" % audience.pk.hex] = start.isoformat() if start else ""
        data["end_%s" % audience.pk.hex] = end.isoformat() if end else ""
    return data


def _errors(wizard, field):
    return wizard.form.errors.get(field, [])


# The whole way


def test_an_activator_activates_audiences_maps_attributes_and_schedules_them(setup):
    # given
    setup.sign_in()
    wizard = setup.open()
    assert wizard.steps == ["audiences", "mapping", "schedule", "review"]
    end = TODAY + datetime.timedelta(days=30)
    # when
    _wizard_post(wizard, "audiences", _audiences(setup.gold, setup.germans))
    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier"), (setup.country, "countryCode")))
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, end), (setup.germans, None, None)))
    assert wizard.step == "review"
    response = _wizard_post(wizard, "review")
    # then
    assert response.status_code == 302 and response["Location"] == setup.destination.get_absolute_url()
    assert {(a.audience, a.start_date, a.end_date) for a in setup.destination.activations.all()} == {
        (setup.gold, TODAY, end),
        (setup.germans, None, None),
    }
    assert sorted(setup.destination.mappings.values_list("source__path", "target")) == [
        ("homeAddress.countryCode", "countryCode"),
        ("loyalty.status", "tier"),
    ]


def test_from_the_catalog_the_wizard_first_asks_for_a_connection_of_that_card(setup):
    plain = DestinationFactory(datastream=setup.web, name="Plain one", kind=PLAIN)
    other = DestinationFactory(datastream=setup.web, name="Ad server", kind=WITH_ATTRIBUTES)
    setup.sign_in()

    wizard = setup.open_from_catalog()

    assert wizard.steps == ["destination", "audiences", "mapping", "schedule", "review"]
    assert list(wizard.form.fields["destination"].queryset) == [other, setup.destination]
    assert plain not in wizard.form.fields["destination"].queryset
    _wizard_post(wizard, "destination", {})
    assert _errors(wizard, "destination") == ["Choose the destination to activate audiences to."]
    _wizard_post(wizard, "destination", {"destination": plain.pk})
    assert wizard.step == "destination"
    _wizard_post(wizard, "destination", {"destination": other.pk})
    assert wizard.step == "audiences"
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings())
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, None)))
    _wizard_post(wizard, "review")
    assert list(other.activations.values_list("audience__name", flat=True)) == ["Gold members"]
    assert not setup.destination.activations.exists()


def test_from_the_catalog_the_only_connection_is_preselected(setup):
    setup.sign_in()

    wizard = setup.open_from_catalog()

    assert wizard.form["destination"].value() == setup.destination.pk


def test_choosing_another_destination_drops_the_answers_given_for_the_first(setup):
    other = DestinationFactory(datastream=setup.web, name="Ad server", kind=WITH_ATTRIBUTES)
    ActivationFactory(destination=other, audience=setup.germans)
    setup.sign_in()
    wizard = setup.open_from_catalog()
    _wizard_post(wizard, "destination", {"destination": setup.destination.pk})
    _wizard_post(wizard, "audiences", _audiences(setup.gold), wizard_goto_step="destination")

    _wizard_post(wizard, "destination", {"destination": other.pk})

    assert wizard.step == "audiences"
    assert wizard.form["audiences"].value() == [setup.germans.pk]


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
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, None)))
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
    assert form["start_%s" % setup.germans.pk.hex].value() == TODAY
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

    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, TODAY - datetime.timedelta(days=1))))

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
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, None)), wizard_goto_step="audiences")

    _wizard_post(wizard, "audiences", _audiences(setup.gold, setup.germans))
    _wizard_post(wizard, "mapping", _mappings())

    assert wizard.step == "schedule"
    assert wizard.form["start_%s" % setup.germans.pk.hex].value() == TODAY.isoformat()


# Review and Finish


def test_the_review_says_no_policy_is_enabled_and_lists_what_changes(setup):
    ActivationFactory(destination=setup.destination, audience=setup.upload)
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier")))
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, None)))

    assert "Data usage policies: none enabled in this sandbox." in wizard.content
    plan = wizard.form.plan
    assert [(row["audience"], row["change"]) for row in plan.audience_rows()] == [(setup.gold, "new")]
    assert plan.removed_audiences() == [setup.upload]
    assert [(row["target"], row["change"]) for row in plan.mapping_rows()] == [("tier", "new")]


def test_a_violated_policy_blocks_finish_and_nothing_is_written(setup):
    # given: an enabled policy denying Onsite Personalization on directly identifiable (I1) data
    onsite = MarketingActionFactory(sandbox=setup.sandbox, name="Onsite Personalization")
    setup.destination.marketing_actions.add(onsite)
    email = ProfileFieldFactory(sandbox=setup.sandbox, path="personalEmail.address")
    LabelFactory(sandbox=setup.sandbox, code="I1").fields.add(email)
    PolicyFactory(marketing_action=onsite, name="No PII on site", deny={"label": "I1"}, status=Policy.Status.ENABLED)
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings((email, "email")))
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, None)))
    assert "No PII on site" in wizard.content and "personalEmail.address" in wizard.content
    assert "disabled" in wizard.content  # the Finish button
    # when
    _wizard_post(wizard, "review")
    # then
    assert wizard.step == "review"
    assert wizard.form.non_field_errors() == [
        "You cannot complete the audience activation workflow until you have resolved the violation."
    ]
    assert not AudienceActivation.objects.exists() and not setup.destination.mappings.exists()


def test_a_policy_on_another_marketing_action_does_not_block(setup):
    onsite = MarketingActionFactory(sandbox=setup.sandbox, name="Onsite Personalization")
    export = MarketingActionFactory(sandbox=setup.sandbox, name="Export to Third Party")
    setup.destination.marketing_actions.add(onsite)
    LabelFactory(sandbox=setup.sandbox, code="C2").fields.add(setup.tier)
    PolicyFactory(marketing_action=export, deny={"label": "C2"}, status=Policy.Status.ENABLED)
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier")))
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, None)))

    assert "1 policy is enabled in this sandbox; it does not apply" in wizard.content
    assert _wizard_post(wizard, "review").status_code == 302


def test_a_refusal_at_finish_is_shown_on_the_review_and_the_answers_are_kept(setup, monkeypatch):
    from django.core.exceptions import ValidationError

    from personalization.destinations.wizards import activate

    def refuse(**kwargs):
        raise ValidationError("Gold members: Only published audiences can be activated; Gold members is draft.")

    monkeypatch.setattr(activate, "destination_activation_apply", refuse)
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings())
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, None)))

    _wizard_post(wizard, "review")

    assert wizard.step == "review"
    assert "Gold members is draft" in wizard.content
    _wizard_post(wizard, "review", wizard_goto_step="audiences")
    assert wizard.form["audiences"].value() == [str(setup.gold.pk)]


def test_an_audience_unpublished_before_finish_sends_the_user_back_to_the_audiences(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings())
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, None)))
    setup.gold.status = Audience.Status.DRAFT
    setup.gold.save()

    _wizard_post(wizard, "review")

    assert wizard.step == "audiences"
    assert not AudienceActivation.objects.exists()


# Editing, Back and tabs


def test_editing_an_activation_reenters_the_wizard_with_the_current_state(setup):
    ActivationFactory(destination=setup.destination, audience=setup.gold, end_date=datetime.date(2031, 1, 1))
    MappingFactory(destination=setup.destination, source=setup.country, target="countryCode")
    setup.sign_in()

    wizard = setup.open()
    assert wizard.form["audiences"].value() == [setup.gold.pk]
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    assert [(f["source"].value(), f["target"].value()) for f in wizard.form.forms[:1]] == [
        (setup.country.pk, "countryCode")
    ]
    _wizard_post(wizard, "mapping", _mappings((setup.country, "countryCode")))
    assert wizard.form["end_%s" % setup.gold.pk.hex].value() == datetime.date(2031, 1, 1)


def test_back_keeps_ticks_mappings_and_dates(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold, setup.germans))
    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier")))
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, datetime.date(2031, 1, 1))), wizard_goto_step="mapping")

    assert wizard.form.forms[0]["target"].value() == "tier"
    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier")), wizard_goto_step="audiences")
    assert sorted(wizard.form["audiences"].value()) == sorted([str(setup.gold.pk), str(setup.germans.pk)])
    _wizard_post(wizard, "audiences", _audiences(setup.gold, setup.germans))
    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier")))
    assert wizard.form["end_%s" % setup.gold.pk.hex].value() == "2031-01-01"


def test_two_tabs_on_two_destinations_do_not_overwrite_each_other(setup):
    other = DestinationFactory(datastream=setup.web, name="Ad server", kind=WITH_ATTRIBUTES)
    setup.sign_in()
    first, second = setup.open(), setup.open(other)

    _wizard_post(first, "audiences", _audiences(setup.gold))
    _wizard_post(second, "audiences", _audiences(setup.germans))
    for wizard, audience in ((first, setup.gold), (second, setup.germans)):
        _wizard_post(wizard, "mapping", _mappings())
        _wizard_post(wizard, "schedule", _dates((audience, TODAY, None)))
        _wizard_post(wizard, "review")

    assert list(setup.destination.activations.values_list("audience__name", flat=True)) == ["Gold members"]
    assert list(other.activations.values_list("audience__name", flat=True)) == ["Germans"]


def test_a_forged_step_without_the_earlier_answers_goes_back_to_the_first_step(setup):
    setup.sign_in()
    wizard = setup.open()

    _wizard_post(wizard, "schedule", {})

    assert wizard.step == "audiences"
    assert not AudienceActivation.objects.exists()


# Who may activate


@pytest.mark.parametrize(
    "codenames",
    [
        (VIEW_DESTINATIONS, MANAGE_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS),
        (VIEW_DESTINATIONS, ACTIVATE_DESTINATIONS, VIEW_SEGMENTS),
        (VIEW_DESTINATIONS, ACTIVATE_DESTINATIONS, VIEW_PROFILES),
    ],
    ids=["manage-only", "no-view-profiles", "no-view-segments"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_without_every_activation_permission_the_wizard_is_forbidden(setup, codenames, method):
    setup.sign_in(*codenames)
    url = reverse("destinations:destination_activate", args=[setup.destination.pk])

    assert getattr(setup.client, method)(url).status_code == 403
    assert setup.client.get(reverse("destinations:destination_activate_kind", args=[WITH_ATTRIBUTES])).status_code == (
        403
    )


def test_a_destination_of_another_sandbox_is_not_found(setup, other_sandbox, grant):
    theirs = DestinationFactory(datastream=DatastreamFactory(sandbox=other_sandbox))
    setup.sign_in()

    response = setup.client.get(reverse("destinations:destination_activate", args=[theirs.pk]))

    assert response.status_code == 404


def test_an_activator_who_loses_the_role_before_finish_is_refused_and_nothing_is_written(setup):
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings())
    _wizard_post(wizard, "schedule", _dates((setup.gold, TODAY, None)))
    setup.user.groups.clear()
    UserFactory(username="bystander")

    assert _wizard_post(wizard, "review").status_code in (403, 404)
    assert not AudienceActivation.objects.exists()
