"""The activation wizard through the test client: the whole way, review and finish, editing, Back, tabs, permissions."""

import datetime

import pytest

from django.urls import reverse

from accounts.constants import (
    ACTIVATE_DESTINATIONS,
    MANAGE_DESTINATIONS,
    VIEW_DESTINATIONS,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from personalization.audiences.models import Audience
from personalization.destinations.models import WARN_AUDIENCES_PER_DESTINATION, AudienceActivation, Destination
from personalization.destinations.wizards.activate import ActivationPlan
from personalization.governance.models import Policy
from tests.destinations.activation_wizard import (
    PLAIN,
    WITH_ATTRIBUTES,
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
    DatastreamFactory,
    DestinationFactory,
    LabelFactory,
    MappingFactory,
    MarketingActionFactory,
    PolicyFactory,
    ProfileFieldFactory,
    UserFactory,
)
from tests.utils.wizard import _wizard_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(sandbox, grant, user, client):
    return Setup(sandbox, grant, user, client)


# The whole way


def test_an_activator_activates_audiences_maps_attributes_and_schedules_them(setup):
    # given
    setup.sign_in()
    wizard = setup.open()
    assert wizard.steps == ["audiences", "mapping", "schedule", "review"]
    end = today() + datetime.timedelta(days=30)
    # when
    _wizard_post(wizard, "audiences", _audiences(setup.gold, setup.germans))
    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier"), (setup.country, "countryCode")))
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), end), (setup.germans, None, None)))
    assert wizard.step == "review"
    response = _wizard_post(wizard, "review")
    # then
    assert response.status_code == 302 and response["Location"] == setup.destination.get_absolute_url()
    assert {(a.audience, a.start_date, a.end_date) for a in setup.destination.activations.all()} == {
        (setup.gold, today(), end),
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
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), None)))
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


# Review and Finish


def test_the_review_says_no_policy_is_enabled_and_lists_what_changes(setup):
    ActivationFactory(destination=setup.destination, audience=setup.upload)
    setup.sign_in()
    wizard = setup.open()
    _wizard_post(wizard, "audiences", _audiences(setup.gold))
    _wizard_post(wizard, "mapping", _mappings((setup.tier, "tier")))
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), None)))

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
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), None)))
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
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), None)))

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
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), None)))

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
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), None)))
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
    later = datetime.date(2031, 1, 1)
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), later)), wizard_goto_step="mapping")

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
        _wizard_post(wizard, "schedule", _dates((audience, today(), None)))
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
    _wizard_post(wizard, "schedule", _dates((setup.gold, today(), None)))
    setup.user.groups.clear()
    UserFactory(username="bystander")

    assert _wizard_post(wizard, "review").status_code in (403, 404)
    assert not AudienceActivation.objects.exists()


def test_more_than_250_audiences_is_flagged_on_the_review_but_not_blocked():
    audiences = AudienceFactory.build_batch(WARN_AUDIENCES_PER_DESTINATION + 1)

    assert ActivationPlan(Destination(), audiences, {}, None).exceeds_audience_guardrail
    assert not ActivationPlan(Destination(), audiences[:-1], {}, None).exceeds_audience_guardrail
