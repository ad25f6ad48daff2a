"""A lookup never sends a mapped attribute an enabled data usage policy forbids, even for an old activation."""

import pytest

from personalization.governance.models import Policy
from tests.factories import LabelFactory, MarketingActionFactory, PolicyFactory

pytestmark = pytest.mark.django_db


def attributes(scenario):
    return scenario.entry(scenario.lookup(headers=scenario.headers), "adServerAlias").get("attributes", {})


def onsite(scenario, *, on_destination=True):
    action = MarketingActionFactory(sandbox=scenario.sandbox, name="Onsite Personalization")
    if on_destination:
        scenario.with_attributes.marketing_actions.add(action)
    return action


@pytest.fixture
def authenticated(scenario):
    scenario.headers = scenario.auth_headers()
    return scenario


def test_an_enabled_policy_keeps_the_attribute_it_forbids_out_of_the_answer(authenticated):
    scenario = authenticated
    LabelFactory(sandbox=scenario.sandbox, code="C9").fields.add(scenario.country)
    PolicyFactory(marketing_action=onsite(scenario), deny={"label": "C9"}, status=Policy.Status.ENABLED)

    assert attributes(scenario) == {"membershipStatus": {"value": "gold"}}


def test_a_draft_policy_or_one_on_another_marketing_action_forbids_nothing(authenticated):
    scenario = authenticated
    LabelFactory(sandbox=scenario.sandbox, code="C9").fields.add(scenario.country)
    PolicyFactory(marketing_action=onsite(scenario), deny={"label": "C9"}, status=Policy.Status.DRAFT)
    elsewhere = onsite(scenario, on_destination=False)
    PolicyFactory(marketing_action=elsewhere, deny={"label": "C9"}, status=Policy.Status.ENABLED)

    assert set(attributes(scenario)) == {"countryCode", "membershipStatus"}


def test_an_and_policy_forbids_its_labels_only_where_they_meet_in_the_mapped_attributes(
    authenticated, django_capture_on_commit_callbacks
):
    scenario = authenticated
    action = onsite(scenario)
    LabelFactory(sandbox=scenario.sandbox, code="C9").fields.add(scenario.country)
    i1 = LabelFactory(sandbox=scenario.sandbox, code="I1")
    PolicyFactory(
        marketing_action=action,
        deny={"operator": "AND", "operands": [{"label": "C9"}, {"label": "I1"}]},
        status=Policy.Status.ENABLED,
    )
    assert set(attributes(scenario)) == {"countryCode", "membershipStatus"}  # I1 is on no mapped field

    with django_capture_on_commit_callbacks(execute=True):
        i1.fields.add(scenario.status)

    assert attributes(scenario) == {}


def enable_policy(scenario, action, label):
    policy = Policy.objects.get(marketing_action=action)
    policy.status = Policy.Status.ENABLED
    policy.save()


CHANGES = {
    "a label put on a mapped field": lambda s, action, label: label.fields.add(s.country),
    "a policy enabled": enable_policy,
    "the marketing action added to the destination": lambda s, action, label: s.with_attributes.marketing_actions.add(
        action
    ),
}


@pytest.mark.services
@pytest.mark.parametrize("change", list(CHANGES))
def test_a_governance_change_shows_on_the_next_warm_lookup(
    redis_store, authenticated, change, django_capture_on_commit_callbacks
):
    scenario = authenticated
    action = onsite(scenario, on_destination=change != "the marketing action added to the destination")
    label = LabelFactory(sandbox=scenario.sandbox, code="C9")
    if change != "a label put on a mapped field":
        label.fields.add(scenario.country)
    status = Policy.Status.DRAFT if change == "a policy enabled" else Policy.Status.ENABLED
    PolicyFactory(marketing_action=action, deny={"label": "C9"}, status=status)
    assert "countryCode" in attributes(scenario)

    with django_capture_on_commit_callbacks(execute=True):
        CHANGES[change](scenario, action, label)

    assert "countryCode" not in attributes(scenario)
