"""Each core policy, on a small fixture: a draft restricts nothing; enabled, it denies its action on its labels."""

import pytest

from personalization.governance.catalogue import CORE_POLICIES
from personalization.governance.models import Label, MarketingAction, Policy, deny_labels
from personalization.governance.selectors import policy_check
from tests.factories import ProfileFieldFactory

pytestmark = pytest.mark.django_db


def _check(sandbox, action_key, paths):
    return policy_check(
        sandbox_id=sandbox.pk,
        marketing_actions=MarketingAction.objects.filter(sandbox=sandbox, key=action_key),
        mapped_paths=paths,
        audience_paths=[],
    )


@pytest.mark.parametrize(("name", "action_key", "deny"), [(name, key, deny) for name, _d, key, deny in CORE_POLICIES])
def test_a_core_policy_denies_its_action_on_each_of_its_labels_only_once_enabled(sandbox, name, action_key, deny):
    for code in sorted(deny_labels(deny)):
        field = ProfileFieldFactory(sandbox=sandbox, path="labelled.%s" % code.lower())
        Label.objects.get(sandbox=sandbox, code=code).fields.add(field)
    paths = {"labelled.%s" % code.lower() for code in deny_labels(deny)}
    policy = Policy.objects.get(sandbox=sandbox, name=name)

    assert policy.status == Policy.Status.DRAFT
    assert _check(sandbox, action_key, paths).passed

    policy.status = Policy.Status.ENABLED
    policy.save()
    for path in sorted(paths):
        check = _check(sandbox, action_key, {path})
        assert [violation.policy.name for violation in check.violations] == [name]
        assert check.violations[0].fields == (path,)
    # Another marketing action is not this policy's business.
    other = "data-science" if action_key != "data-science" else "analytics"
    assert name not in [violation.policy.name for violation in _check(sandbox, other, paths).violations]


def test_an_unlabelled_field_breaks_no_core_policy_even_with_all_of_them_enabled(sandbox):
    Policy.objects.filter(sandbox=sandbox).update(status=Policy.Status.ENABLED)
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.tier")

    for _name, _description, action_key, _deny in CORE_POLICIES:
        assert _check(sandbox, action_key, {"loyalty.tier"}).passed


def test_a_core_policy_reads_as_one_line(sandbox):
    policy = Policy.objects.get(sandbox=sandbox, name="Restrict data export to third parties")

    assert policy.reading() == "Deny Export to Third Party when data is labelled C2 or C12."
