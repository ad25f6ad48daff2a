"""Governance writes: custom labels and actions, policies, and labels on fields re-checked against activations."""

import pytest

from django.core.exceptions import PermissionDenied, ValidationError

from accounts import constants as perms
from personalization.destinations.models import Destination
from personalization.governance.models import Label, MarketingAction, Policy
from personalization.governance.services import (
    field_labels_set,
    fields_label_bulk,
    label_create,
    label_delete,
    marketing_action_create,
    marketing_action_delete,
    policy_create,
    policy_delete,
    policy_update,
)
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    MappingFactory,
    ProfileFieldFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def exporting(sandbox):
    """Export to Third Party is denied on C2 (enabled); the Partner feed maps email and activates Members."""
    export = MarketingAction.objects.get(sandbox=sandbox, key="export-to-third-party")
    Policy.objects.filter(sandbox=sandbox, name="Restrict data export to third parties").update(status="enabled")
    email = ProfileFieldFactory(sandbox=sandbox, path="personalEmail.address")
    tier = ProfileFieldFactory(sandbox=sandbox, path="loyalty.tier")
    feed = DestinationFactory(
        datastream=DatastreamFactory(sandbox=sandbox), kind=Destination.Kind.WITH_ATTRIBUTES, name="Partner feed"
    )
    feed.marketing_actions.add(export)
    members = AudienceFactory(sandbox=sandbox, name="Members", rule={"field": "loyalty.tier", "op": "exists"})
    ActivationFactory(destination=feed, audience=members)
    MappingFactory(destination=feed, source=email, target="email")
    return {"email": email, "tier": tier, "feed": feed, "c2": Label.objects.get(sandbox=sandbox, code="C2")}


#
# Labels and marketing actions
#


def test_a_custom_label_is_created_as_custom_and_deleted(steward, sandbox):
    label = label_create(user=steward, sandbox=sandbox, code="PARTNER_ONLY", name="Partner only")

    assert label.category == Label.Category.CUSTOM
    label_delete(user=steward, label=label)
    assert not Label.objects.filter(sandbox=sandbox, code="PARTNER_ONLY").exists()


def test_a_label_code_must_start_with_a_letter(steward, sandbox):
    with pytest.raises(ValidationError) as caught:
        label_create(user=steward, sandbox=sandbox, code="9lives", name="Nine")

    assert "Start with a letter" in str(caught.value.message_dict["code"])


def test_core_labels_cannot_be_deleted(steward, sandbox):
    with pytest.raises(ValidationError, match="C2 is a core label"):
        label_delete(user=steward, label=Label.objects.get(sandbox=sandbox, code="C2"))


def test_a_label_a_policy_names_cannot_be_deleted(steward, sandbox):
    label = label_create(user=steward, sandbox=sandbox, code="PARTNER", name="Partner")
    policy_create(
        user=steward,
        sandbox=sandbox,
        name="No partner data in email",
        marketing_action=MarketingAction.objects.get(sandbox=sandbox, key="email-targeting"),
        deny={"label": "PARTNER"},
    )

    with pytest.raises(ValidationError, match="Policies name PARTNER; change or delete them first: No partner"):
        label_delete(user=steward, label=label)


def test_a_marketing_action_a_destination_declares_cannot_be_deleted(steward, sandbox):
    action = marketing_action_create(user=steward, sandbox=sandbox, key="partner-sharing", name="Partner sharing")
    DestinationFactory(datastream=DatastreamFactory(sandbox=sandbox), name="Feed").marketing_actions.add(action)

    with pytest.raises(ValidationError, match="in use by destinations Feed"):
        marketing_action_delete(user=steward, action=action)


def test_writing_the_catalogue_needs_manage_data_usage_policies(sandbox, grant):
    viewer = UserFactory(username="viewer")
    grant(viewer, sandbox, perms.VIEW_POLICIES)

    with pytest.raises(PermissionDenied):
        label_create(user=viewer, sandbox=sandbox, code="PARTNER", name="Partner")


#
# Policies
#


def test_a_new_policy_is_a_draft_and_must_name_labels_the_sandbox_has(steward, sandbox):
    action = MarketingAction.objects.get(sandbox=sandbox, key="email-targeting")

    with pytest.raises(ValidationError) as caught:
        policy_create(user=steward, sandbox=sandbox, name="Typo", marketing_action=action, deny={"label": "C99"})
    assert "No label C99 in this sandbox" in str(caught.value.message_dict["deny"])

    policy = policy_create(
        user=steward, sandbox=sandbox, name="No I1 email", marketing_action=action, deny={"label": "I1"}
    )
    assert policy.status == Policy.Status.DRAFT


def test_a_core_policy_keeps_its_expression_and_cannot_be_deleted(steward, sandbox):
    core = Policy.objects.get(sandbox=sandbox, name="Restrict data export to third parties")

    with pytest.raises(ValidationError, match="core policy"):
        policy_update(user=steward, policy=core, deny={"label": "C1"})
    with pytest.raises(ValidationError, match="disable it instead"):
        policy_delete(user=steward, policy=core)
    policy_update(user=steward, policy=core, description="Our contracts say so.")
    core.refresh_from_db()
    assert core.deny == {"operator": "OR", "operands": [{"label": "C2"}, {"label": "C12"}]}


def test_editing_an_enabled_policy_into_one_activations_break_is_refused(steward, sandbox, exporting):
    Label.objects.get(sandbox=sandbox, code="I1").fields.add(exporting["email"])
    policy = policy_create(
        user=steward,
        sandbox=sandbox,
        name="No identifiable exports",
        marketing_action=MarketingAction.objects.get(sandbox=sandbox, key="export-to-third-party"),
        deny={"label": "I2"},
    )
    Policy.objects.filter(pk=policy.pk).update(status="enabled")
    policy.refresh_from_db()

    with pytest.raises(ValidationError, match="The policy No identifiable exports forbids this"):
        policy_update(user=steward, policy=policy, deny={"label": "I1"})
    policy.refresh_from_db()
    assert policy.deny == {"label": "I2"}


#
# Labels on fields
#


def test_a_label_on_a_mapped_field_that_breaks_an_enabled_policy_is_refused_and_not_applied(steward, exporting):
    with pytest.raises(ValidationError) as caught:
        field_labels_set(user=steward, field=exporting["email"], labels=[exporting["c2"]])

    message = " ".join(caught.value.messages)
    assert "Restrict data export to third parties" in message
    assert "personalEmail.address" in message and "Partner feed" in message
    assert not exporting["email"].labels.exists()


def test_a_label_on_a_field_a_rule_uses_is_refused_too(steward, exporting):
    with pytest.raises(ValidationError, match="the audience Members"):
        field_labels_set(user=steward, field=exporting["tier"], labels=[exporting["c2"]])


def test_a_label_no_activation_uses_is_applied_and_removing_labels_always_works(steward, sandbox, exporting):
    spare = ProfileFieldFactory(sandbox=sandbox, path="notes.internal")

    field_labels_set(user=steward, field=spare, labels=[exporting["c2"]])
    assert list(spare.labels.values_list("code", flat=True)) == ["C2"]
    field_labels_set(user=steward, field=spare, labels=[])
    assert not spare.labels.exists()


def test_labelling_fields_needs_apply_data_usage_labels(sandbox, grant, exporting):
    viewer = UserFactory(username="viewer")
    grant(viewer, sandbox, perms.VIEW_PROFILES, perms.VIEW_POLICIES)

    with pytest.raises(PermissionDenied):
        field_labels_set(user=viewer, field=exporting["tier"], labels=[])


def test_a_bulk_label_that_breaks_a_policy_on_one_field_changes_no_field(steward, sandbox, exporting):
    spare = ProfileFieldFactory(sandbox=sandbox, path="notes.internal")

    with pytest.raises(ValidationError, match="Partner feed"):
        fields_label_bulk(
            user=steward, sandbox=sandbox, fields=[spare, exporting["email"]], labels=[exporting["c2"]], add=True
        )
    assert not spare.labels.exists() and not exporting["email"].labels.exists()


def test_bulk_labelling_adds_and_removes_and_counts_the_fields_it_changed(steward, sandbox):
    fields = [ProfileFieldFactory(sandbox=sandbox, path="a.%d" % n) for n in range(3)]
    s1 = Label.objects.get(sandbox=sandbox, code="S1")

    assert fields_label_bulk(user=steward, sandbox=sandbox, fields=fields, labels=[s1], add=True) == 3
    assert fields_label_bulk(user=steward, sandbox=sandbox, fields=fields, labels=[s1], add=True) == 0
    assert fields_label_bulk(user=steward, sandbox=sandbox, fields=fields[:1], labels=[s1], add=False) == 1
    assert sorted(s1.fields.values_list("path", flat=True)) == ["a.1", "a.2"]
