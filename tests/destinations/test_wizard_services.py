"""The services behind the wizards: one call per Finish, all or nothing, permissions checked again."""

import datetime

import pytest

from django.core.exceptions import PermissionDenied, ValidationError

from accounts.constants import (
    ACTIVATE_DESTINATIONS,
    ACTIVATE_SEGMENTS_WITHOUT_MAPPING,
    MANAGE_DESTINATIONS,
    VIEW_ALERTS,
    VIEW_DESTINATIONS,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from personalization.alerts.models import AlertSubscription
from personalization.alerts.services import alert_subscriptions_set
from personalization.audiences.models import Audience
from personalization.destinations.models import MAX_ATTRIBUTE_MAPPINGS, AudienceActivation, Destination
from personalization.destinations.services import (
    activation_policy_check,
    destination_activation_apply,
    destination_connect,
)
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

pytestmark = pytest.mark.django_db

WITH_ATTRIBUTES = Destination.Kind.WITH_ATTRIBUTES
READ = (VIEW_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS)


@pytest.fixture
def destination(sandbox):
    return DestinationFactory(datastream=DatastreamFactory(sandbox=sandbox), kind=WITH_ATTRIBUTES, name="Hero")


@pytest.fixture
def activator(user, sandbox, grant):
    grant(user, sandbox, *READ, ACTIVATE_DESTINATIONS)
    return user


@pytest.fixture
def planner(sandbox, grant):
    user = UserFactory(username="planner")
    grant(user, sandbox, *READ, ACTIVATE_SEGMENTS_WITHOUT_MAPPING)
    return user


# destination_connect and alert subscriptions


def test_connecting_creates_the_destination_its_actions_and_the_users_alerts_at_once(user, sandbox, grant):
    grant(user, sandbox, VIEW_DESTINATIONS, MANAGE_DESTINATIONS, VIEW_ALERTS)
    onsite = MarketingActionFactory(sandbox=sandbox)

    destination = destination_connect(
        user=user,
        sandbox=sandbox,
        kind=WITH_ATTRIBUTES,
        name="Hero",
        alias="hero",
        datastream=DatastreamFactory(sandbox=sandbox),
        marketing_actions=[onsite],
        alert_types=["run_failure"],
    )

    assert list(destination.marketing_actions.all()) == [onsite]
    assert list(destination.alert_subscriptions.values_list("user", "alert_type")) == [(user.pk, "run_failure")]


def test_a_refused_alert_subscription_undoes_the_whole_connection(user, sandbox, grant):
    grant(user, sandbox, VIEW_DESTINATIONS, MANAGE_DESTINATIONS)  # no View Alerts

    with pytest.raises(PermissionDenied):
        destination_connect(
            user=user,
            sandbox=sandbox,
            kind=WITH_ATTRIBUTES,
            name="Hero",
            alias="hero",
            datastream=DatastreamFactory(sandbox=sandbox),
            alert_types=["run_failure"],
        )

    assert not Destination.objects.exists()


def test_alert_subscriptions_are_set_to_exactly_the_chosen_types(user, sandbox, grant, destination):
    grant(user, sandbox, VIEW_DESTINATIONS, VIEW_ALERTS)
    alert_subscriptions_set(user=user, destination=destination, alert_types=["run_failure", "run_delay"])

    alert_subscriptions_set(user=user, destination=destination, alert_types=["run_delay", "activation_skipped_rate"])

    assert set(AlertSubscription.objects.values_list("alert_type", flat=True)) == {
        "run_delay",
        "activation_skipped_rate",
    }


def test_an_unknown_alert_type_is_refused_by_name(user, sandbox, grant, destination):
    grant(user, sandbox, VIEW_DESTINATIONS, VIEW_ALERTS)

    with pytest.raises(ValidationError) as excinfo:
        alert_subscriptions_set(user=user, destination=destination, alert_types=["run_success"])

    assert excinfo.value.message_dict["alert_types"] == ["These are not alerts this destination offers: run_success."]


# destination_activation_apply


def test_apply_creates_reschedules_and_removes_activations_and_replaces_mappings(activator, sandbox, destination):
    # given
    kept, dropped, added = AudienceFactory.create_batch(3, sandbox=sandbox)
    ActivationFactory(destination=destination, audience=kept)
    ActivationFactory(destination=destination, audience=dropped)
    tier, country = ProfileFieldFactory(sandbox=sandbox), ProfileFieldFactory(sandbox=sandbox)
    MappingFactory(destination=destination, source=tier, target="old")
    end = datetime.date(2031, 1, 1)
    # when
    changes = destination_activation_apply(
        user=activator,
        destination=destination,
        audiences=[kept, added],
        schedule={kept.pk: (None, end), added.pk: (None, None)},
        mappings=[(tier, "tier"), (country, "country")],
    )
    # then
    assert (changes.added, changes.rescheduled, changes.removed, changes.total_audiences) == (1, 1, 1, 2)
    assert {(a.audience, a.end_date) for a in destination.activations.all()} == {(kept, end), (added, None)}
    assert sorted(destination.mappings.values_list("target", flat=True)) == ["country", "tier"]


def test_apply_swaps_mappings_at_the_limit_because_removals_come_first(activator, sandbox, destination):
    field = ProfileFieldFactory(sandbox=sandbox)
    for number in range(MAX_ATTRIBUTE_MAPPINGS):
        MappingFactory(destination=destination, source=field, target="old%02d" % number)
    wanted = [(field, "new%02d" % number) for number in range(MAX_ATTRIBUTE_MAPPINGS)]

    destination_activation_apply(user=activator, destination=destination, audiences=[], schedule={}, mappings=wanted)

    assert sorted(destination.mappings.values_list("target", flat=True)) == [target for _f, target in wanted]


def test_a_31st_mapping_undoes_everything_else_in_the_same_call(activator, sandbox, destination):
    audience = AudienceFactory(sandbox=sandbox)
    field = ProfileFieldFactory(sandbox=sandbox)
    wanted = [(field, "attr%02d" % number) for number in range(MAX_ATTRIBUTE_MAPPINGS + 1)]

    with pytest.raises(ValidationError) as excinfo:
        destination_activation_apply(
            user=activator, destination=destination, audiences=[audience], schedule={}, mappings=wanted
        )

    assert "the maximum is 30" in excinfo.value.messages[0]
    assert not destination.mappings.exists() and not AudienceActivation.objects.exists()


def test_a_refused_audience_undoes_the_other_rows_and_names_the_audience(activator, sandbox, destination):
    good = AudienceFactory(sandbox=sandbox, name="Good")
    draft = AudienceFactory(sandbox=sandbox, name="Idea", status=Audience.Status.DRAFT)

    with pytest.raises(ValidationError) as excinfo:
        destination_activation_apply(
            user=activator, destination=destination, audiences=[good, draft], schedule={}, mappings=None
        )

    assert excinfo.value.messages == ["Idea: Only published audiences can be activated; Idea is draft."]
    assert not AudienceActivation.objects.exists()


def test_a_without_mapping_user_activates_audiences_and_leaves_mappings_alone(planner, sandbox, destination):
    audience = AudienceFactory(sandbox=sandbox)
    MappingFactory(destination=destination, target="tier")

    destination_activation_apply(
        user=planner, destination=destination, audiences=[audience], schedule={}, mappings=None
    )

    assert destination.activations.count() == 1
    assert list(destination.mappings.values_list("target", flat=True)) == ["tier"]


@pytest.mark.parametrize("mappings", [[], "one"])
def test_a_without_mapping_user_can_never_change_mappings(planner, sandbox, destination, mappings):
    MappingFactory(destination=destination, target="tier")
    if mappings == "one":
        mappings = [(ProfileFieldFactory(sandbox=sandbox), "country")]

    with pytest.raises(PermissionDenied):
        destination_activation_apply(
            user=planner, destination=destination, audiences=[], schedule={}, mappings=mappings
        )

    assert list(destination.mappings.values_list("target", flat=True)) == ["tier"]


@pytest.mark.parametrize(
    "codenames",
    [
        (VIEW_DESTINATIONS, MANAGE_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS),
        (VIEW_DESTINATIONS, ACTIVATE_DESTINATIONS, VIEW_SEGMENTS),
        (VIEW_DESTINATIONS, ACTIVATE_DESTINATIONS, VIEW_PROFILES),
    ],
    ids=["manage-only", "no-view-profiles", "no-view-segments"],
)
def test_apply_refuses_users_missing_an_activation_permission(user, sandbox, grant, destination, codenames):
    grant(user, sandbox, *codenames)

    with pytest.raises(PermissionDenied):
        destination_activation_apply(
            user=user, destination=destination, audiences=[AudienceFactory(sandbox=sandbox)], schedule={}
        )

    assert not AudienceActivation.objects.exists()


def test_apply_refuses_an_audience_of_another_sandbox(activator, other_sandbox, destination):
    with pytest.raises(ValidationError) as excinfo:
        destination_activation_apply(
            user=activator,
            destination=destination,
            audiences=[AudienceFactory(sandbox=other_sandbox, name="Theirs")],
            schedule={},
        )

    assert "another sandbox" in excinfo.value.messages[0]


def test_apply_refreshes_the_lookups_cached_config_after_commit(
    activator, sandbox, destination, django_capture_on_commit_callbacks
):
    from personalization.edge.lookup import datastream_config

    datastream_id = str(destination.datastream_id)
    datastream_config(datastream_id)  # the lookup's config is now held by the edge store
    audience = AudienceFactory(sandbox=sandbox)

    with django_capture_on_commit_callbacks(execute=True):
        destination_activation_apply(user=activator, destination=destination, audiences=[audience], schedule={})

    destinations = datastream_config(datastream_id)["destinations"]
    (served,) = [entry for entry in destinations if entry["id"] == str(destination.pk)]
    assert str(audience.pk) in {activation["audience"] for activation in served["activations"]}


# activation_policy_check


@pytest.fixture
def policed(sandbox, destination):
    """An enabled policy denying Onsite Personalization on data labelled I1 AND C6, and the fields carrying them."""
    onsite = MarketingActionFactory(sandbox=sandbox, name="Onsite Personalization")
    destination.marketing_actions.add(onsite)
    email = ProfileFieldFactory(sandbox=sandbox, path="personalEmail.address")
    country = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")
    LabelFactory(sandbox=sandbox, code="I1").fields.add(email)
    LabelFactory(sandbox=sandbox, code="C6").fields.add(country)
    policy = PolicyFactory(
        marketing_action=onsite,
        name="No onsite ads on PII",
        deny={"operator": "AND", "operands": [{"label": "I1"}, {"label": "C6"}]},
        status=Policy.Status.ENABLED,
    )
    return policy, email, country


def test_no_enabled_policy_means_no_violation_and_says_so(sandbox, destination):
    PolicyFactory(marketing_action=MarketingActionFactory(sandbox=sandbox), status=Policy.Status.DRAFT)

    check = activation_policy_check(destination=destination, audiences=[], mapped_fields=[])

    assert (check.enabled_policies, check.applicable_policies, check.passed) == (0, 0, True)


def test_an_and_policy_is_violated_when_its_labels_meet_in_the_mapped_attributes(destination, policed):
    policy, email, country = policed

    check = activation_policy_check(destination=destination, audiences=[], mapped_fields=[email, country])

    (violation,) = check.violations
    assert violation.policy == policy and violation.audience is None
    assert violation.labels == ("C6", "I1")
    assert violation.fields == ("homeAddress.countryCode", "personalEmail.address")


def test_an_and_policy_counts_labels_within_one_audience_plus_the_mapped_fields(sandbox, destination, policed):
    policy, email, _country = policed
    by_country = AudienceFactory(sandbox=sandbox, name="Germans", rule={"all": [{"field": "homeAddress.countryCode"}]})
    unrelated = AudienceFactory(sandbox=sandbox, name="Everyone", rule={"all": []})

    check = activation_policy_check(destination=destination, audiences=[by_country, unrelated], mapped_fields=[email])

    assert [(v.policy, v.audience) for v in check.violations] == [(policy, by_country)]


def test_labels_spread_across_two_audiences_do_not_violate_an_and_policy(sandbox, destination, policed):
    with_email = AudienceFactory(sandbox=sandbox, rule={"field": "personalEmail.address", "op": "exists"})
    with_country = AudienceFactory(sandbox=sandbox, rule={"any": [{"field": "homeAddress.countryCode"}]})

    check = activation_policy_check(destination=destination, audiences=[with_email, with_country], mapped_fields=[])

    assert check.passed and check.applicable_policies == 1


def test_a_violation_refuses_the_whole_activation(activator, sandbox, destination, policed):
    _policy, email, country = policed

    with pytest.raises(ValidationError) as excinfo:
        destination_activation_apply(
            user=activator,
            destination=destination,
            audiences=[AudienceFactory(sandbox=sandbox)],
            schedule={},
            mappings=[(email, "email"), (country, "country")],
        )

    assert excinfo.value.messages == ["The policy No onsite ads on PII forbids this activation."]
    assert not AudienceActivation.objects.exists() and not destination.mappings.exists()


def test_an_audience_including_others_carries_their_labels_along_the_chain(sandbox, destination, policed):
    policy, email, country = policed
    contacts = AudienceFactory(
        sandbox=sandbox, name="Contacts", rule={"field": email.path, "op": "exists", "value": True}
    )
    german_contacts = AudienceFactory(
        sandbox=sandbox,
        name="German contacts",
        rule={"all": [{"in_audience": str(contacts.pk)}, {"field": country.path, "op": "equals", "value": "DE"}]},
    )
    newsletter = AudienceFactory(sandbox=sandbox, name="Newsletter", rule={"in_audience": str(german_contacts.pk)})

    check = activation_policy_check(destination=destination, audiences=[newsletter], mapped_fields=[])

    (violation,) = check.violations
    assert violation.policy == policy and violation.audience == newsletter
    assert violation.fields == ("homeAddress.countryCode", "personalEmail.address")


def test_a_reference_cycle_between_audiences_ends_the_chain(sandbox, destination, policed):
    _policy, email, _country = policed
    first = AudienceFactory(sandbox=sandbox, name="First", rule={"field": email.path, "op": "exists", "value": True})
    second = AudienceFactory(sandbox=sandbox, name="Second", rule={"in_audience": str(first.pk)})
    first.rule = {"any": [{"field": email.path, "op": "exists", "value": True}, {"in_audience": str(second.pk)}]}
    first.save()

    check = activation_policy_check(destination=destination, audiences=[second], mapped_fields=[])

    assert check.passed  # I1 alone: the AND policy needs C6 too
