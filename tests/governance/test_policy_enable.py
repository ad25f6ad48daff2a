"""Enabling a data usage policy: what it would block is known first, and current activations it breaks refuse it."""

import pytest

from django.core.exceptions import PermissionDenied, ValidationError

from accounts import constants as perms
from personalization.destinations.models import Destination
from personalization.destinations.selectors import policy_would_block
from personalization.governance.models import Policy
from personalization.governance.services import policy_set_enabled
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


@pytest.fixture
def shop(sandbox, grant):
    admin = UserFactory(username="policy-admin")
    grant(admin, sandbox, perms.VIEW_POLICIES, perms.MANAGE_POLICIES)
    onsite = MarketingActionFactory(sandbox=sandbox, key="onsite-personalization")
    email = ProfileFieldFactory(sandbox=sandbox, path="personalEmail.address")
    LabelFactory(sandbox=sandbox, code="I1").fields.add(email)
    hero = DestinationFactory(
        datastream=DatastreamFactory(sandbox=sandbox), kind=Destination.Kind.WITH_ATTRIBUTES, name="Hero"
    )
    hero.marketing_actions.add(onsite)
    ActivationFactory(destination=hero, audience=AudienceFactory(sandbox=sandbox, name="Members"))
    MappingFactory(destination=hero, source=email, target="email")
    return {"admin": admin, "onsite": onsite, "hero": hero, "sandbox": sandbox}


def test_what_a_draft_would_block_is_known_before_it_is_enabled(shop):
    draft = PolicyFactory(marketing_action=shop["onsite"], deny={"label": "I1"}, status=Policy.Status.DRAFT)

    [(destination, check)] = policy_would_block(draft)

    assert destination == shop["hero"]
    assert check.violations[0].fields == ("personalEmail.address",)


def test_enabling_a_policy_current_activations_break_is_refused_naming_them(shop):
    draft = PolicyFactory(
        marketing_action=shop["onsite"], name="No onsite PII", deny={"label": "I1"}, status=Policy.Status.DRAFT
    )

    with pytest.raises(ValidationError) as refused:
        policy_set_enabled(user=shop["admin"], policy=draft, enabled=True)

    assert (
        "The policy No onsite PII forbids this: labels I1 on personalEmail.address reach Hero"
        in (refused.value.messages[0])
    )
    assert Policy.objects.get(pk=draft.pk).status == "draft"


def test_a_policy_no_activation_breaks_is_enabled_and_disabled(shop):
    other = MarketingActionFactory(sandbox=shop["sandbox"], key="export-to-third-party")
    draft = PolicyFactory(marketing_action=other, deny={"label": "I1"}, status=Policy.Status.DRAFT)

    assert policy_set_enabled(user=shop["admin"], policy=draft, enabled=True).status == "enabled"
    assert policy_set_enabled(user=shop["admin"], policy=draft, enabled=False).status == "draft"


def test_enabling_a_policy_needs_manage_data_usage_policies(shop):
    draft = PolicyFactory(marketing_action=shop["onsite"], deny={"label": "C2"}, status=Policy.Status.DRAFT)

    with pytest.raises(PermissionDenied):
        policy_set_enabled(user=UserFactory(username="nobody"), policy=draft, enabled=True)
