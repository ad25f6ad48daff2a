"""Every sandbox has the core data usage vocabulary, and the core policies restrict nothing until enabled."""

import pytest

from personalization.governance.catalogue import CORE_LABELS, CORE_MARKETING_ACTIONS, CORE_POLICIES, catalogue_ensure
from personalization.governance.models import Label, MarketingAction, Policy
from tests.factories import SandboxFactory

pytestmark = pytest.mark.django_db


def test_a_new_sandbox_gets_the_core_labels_marketing_actions_and_draft_policies():
    sandbox = SandboxFactory(name="fresh")

    codes = set(Label.objects.filter(sandbox=sandbox).values_list("code", flat=True))
    assert codes == {"C%d" % n for n in range(1, 13)} | {"I1", "I2", "S1", "S2"}
    assert MarketingAction.objects.filter(sandbox=sandbox).count() == len(CORE_MARKETING_ACTIONS)
    policies = Policy.objects.filter(sandbox=sandbox)
    assert policies.count() == len(CORE_POLICIES) == 8
    assert set(policies.values_list("status", flat=True)) == {"draft"}
    onsite = policies.get(marketing_action__key="onsite-personalization")
    assert onsite.deny == {"operator": "OR", "operands": [{"label": "C4"}, {"label": "C7"}]}


def test_ensuring_the_catalogue_again_creates_nothing_and_keeps_an_admins_changes():
    sandbox = SandboxFactory(name="kept")
    policy = Policy.objects.get(sandbox=sandbox, name="Restrict data export to third parties")
    policy.status = Policy.Status.ENABLED
    policy.save()
    Label.objects.filter(sandbox=sandbox, code="C1").update(description="Our own wording")

    assert catalogue_ensure(sandbox) == 0

    policy.refresh_from_db()
    assert policy.status == "enabled"
    assert Label.objects.get(sandbox=sandbox, code="C1").description == "Our own wording"
    assert Label.objects.filter(sandbox=sandbox).count() == len(CORE_LABELS)
