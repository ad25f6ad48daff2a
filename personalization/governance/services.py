"""
Writes for governance: custom labels and marketing actions, policies, and the labels on profile fields.

Catalogue and policy writes need Manage Data Usage Policies; labelling fields needs Apply Data Usage Labels. A
write that would make a current activation break an enabled policy is refused through a signal the destinations
app answers (`signals.policy_enabling`, `signals.labels_changing`), inside the same transaction: nothing changes.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import CAN_APPLY_LABELS, CAN_MANAGE_POLICIES
from personalization.governance import signals
from personalization.governance.models import Label, MarketingAction, Policy, deny_labels
from personalization.services import delete_checked, save_checked

__all__ = [
    "field_labels_set",
    "fields_label_bulk",
    "label_create",
    "label_delete",
    "label_update",
    "marketing_action_create",
    "marketing_action_delete",
    "policy_create",
    "policy_delete",
    "policy_set_enabled",
    "policy_update",
]


#
# Labels and marketing actions
#


def label_create(*, user, sandbox, code, name, description="") -> Label:
    """Add a custom label to the sandbox; core labels come with every sandbox."""
    label = Label(sandbox=sandbox, code=code, name=name, description=description, category=Label.Category.CUSTOM)
    return save_checked(instance=label, user=user, rule=CAN_MANAGE_POLICIES)


def label_update(*, user, label: Label, **fields) -> Label:
    """Rename or describe a custom label; its code is how policies name it, so it never changes."""
    if label.is_core:
        raise ValidationError(_("%(code)s is a core label: it cannot be changed.") % {"code": label.code}, code="core")
    if "code" in fields and fields["code"] != label.code:
        raise ValidationError({"code": _("A label's code cannot change; policies name it.")}, code="immutable")
    return save_checked(instance=label, user=user, rule=CAN_MANAGE_POLICIES, update=fields)


def _policies_naming(label: Label) -> list[str]:
    policies = Policy.objects.filter(sandbox_id=label.sandbox_id).order_by("name")
    return [policy.name for policy in policies if label.code in deny_labels(policy.deny)]


def label_delete(*, user, label: Label) -> None:
    """Delete a custom label (it comes off its fields); refused while a policy names it."""
    if label.is_core:
        raise ValidationError(_("%(code)s is a core label: it cannot be deleted.") % {"code": label.code}, code="core")
    naming = _policies_naming(label)
    if naming:
        raise ValidationError(
            _("Policies name %(code)s; change or delete them first: %(policies)s.")
            % {"code": label.code, "policies": ", ".join(naming)},
            code="label_in_use",
        )
    delete_checked(instance=label, user=user, rule=CAN_MANAGE_POLICIES)


def marketing_action_create(*, user, sandbox, key, name, description="") -> MarketingAction:
    """Add a custom marketing action that destinations can declare and policies can deny."""
    action = MarketingAction(sandbox=sandbox, key=key, name=name, description=description)
    return save_checked(instance=action, user=user, rule=CAN_MANAGE_POLICIES)


def marketing_action_delete(*, user, action: MarketingAction) -> None:
    """Delete a custom marketing action; refused while a policy denies it or a destination declares it."""
    if action.is_core:
        raise ValidationError(
            _("%(name)s is a core marketing action: it cannot be deleted.") % {"name": action.name}, code="core"
        )
    policies = sorted(action.policies.values_list("name", flat=True))
    destinations = sorted(action.destinations.values_list("name", flat=True))
    if policies or destinations:
        used = [
            _("policies %(names)s") % {"names": ", ".join(policies)} if policies else "",
            _("destinations %(names)s") % {"names": ", ".join(destinations)} if destinations else "",
        ]
        raise ValidationError(
            _("%(name)s is in use by %(used)s; remove it there first.")
            % {"name": action.name, "used": _(" and ").join(part for part in used if part)},
            code="marketing_action_in_use",
        )
    delete_checked(instance=action, user=user, rule=CAN_MANAGE_POLICIES)


#
# Policies
#


def policy_create(*, user, sandbox, name, marketing_action, deny, description="") -> Policy:
    """Write a policy as a draft; it restricts nothing until it is enabled."""
    policy = Policy(
        sandbox=sandbox,
        name=name,
        description=description,
        marketing_action=marketing_action,
        deny=deny,
        status=Policy.Status.DRAFT,
    )
    return save_checked(instance=policy, user=user, rule=CAN_MANAGE_POLICIES)


@transaction.atomic
def policy_update(*, user, policy: Policy, **fields) -> Policy:
    """
    Change a policy. A core policy keeps its action and expression. An enabled policy's new version is checked
    like an enabling: refused, explained, when current activations would break it.
    """
    fields.pop("status", None)  # enabling goes through policy_set_enabled, which checks it
    if policy.is_core:
        changed = [
            name
            for name in ("name", "marketing_action", "deny")
            if name in fields and fields[name] != getattr(policy, name)
        ]
        if changed:
            raise ValidationError(
                _("%(name)s is a core policy: only its description changes; enable or disable it instead.")
                % {"name": policy.name},
                code="core",
            )
    policy = save_checked(instance=policy, user=user, rule=CAN_MANAGE_POLICIES, update=fields)
    if policy.is_enabled:
        signals.policy_enabling.send(sender=Policy, policy=policy)
    return policy


def policy_delete(*, user, policy: Policy) -> None:
    """Delete a custom policy; the core ones are disabled instead."""
    if policy.is_core:
        raise ValidationError(
            _("%(name)s is a core policy: disable it instead of deleting it.") % {"name": policy.name}, code="core"
        )
    delete_checked(instance=policy, user=user, rule=CAN_MANAGE_POLICIES)


@transaction.atomic
def policy_set_enabled(*, user, policy: Policy, enabled: bool) -> Policy:
    """
    Enable or disable a policy (Manage Data Usage Policies). Enabling one that a current activation would break
    is refused with each violation explained (`destinations` answers `signals.policy_enabling`); nothing changes.
    """
    CAN_MANAGE_POLICIES.require(user, policy.sandbox_id)
    policy.status = Policy.Status.ENABLED if enabled else Policy.Status.DRAFT
    policy.full_clean()
    policy.save(update_fields=["status"])
    if enabled:
        signals.policy_enabling.send(sender=Policy, policy=policy)
    return policy


#
# Labels on profile fields
#


def _sandbox_labels(sandbox_id, labels) -> list[Label]:
    labels = list(labels)
    strangers = sorted(label.code for label in labels if label.sandbox_id != sandbox_id)
    if strangers:
        raise ValidationError(
            {"labels": _("Labels %(codes)s belong to another sandbox.") % {"codes": ", ".join(strangers)}},
            code="other_sandbox",
        )
    return labels


@transaction.atomic
def field_labels_set(*, user, field, labels) -> list[Label]:
    """
    Make `labels` the field's data usage labels (Apply Data Usage Labels). Adding a label that makes a current
    activation break an enabled policy is refused, explained; removing labels never is.
    """
    CAN_APPLY_LABELS.require(user, field.sandbox_id)
    labels = _sandbox_labels(field.sandbox_id, labels)
    before = set(field.labels.values_list("pk", flat=True))
    field.labels.set(labels)
    if {label.pk for label in labels} - before:
        signals.labels_changing.send(sender=Label, sandbox_id=field.sandbox_id, paths={field.path})
    return labels


@transaction.atomic
def fields_label_bulk(*, user, sandbox, fields, labels, add: bool) -> int:
    """
    Add `labels` to (or remove them from) every field of `fields` at once; return how many fields changed.
    The whole batch is refused, explained, when the labels added would make an activation break a policy.
    """
    CAN_APPLY_LABELS.require(user, sandbox.pk)
    labels = _sandbox_labels(sandbox.pk, labels)
    fields = list(fields)
    strangers = sorted(field.path for field in fields if field.sandbox_id != sandbox.pk)
    if strangers:
        raise ValidationError(
            {"fields": _("Fields %(paths)s belong to another sandbox.") % {"paths": ", ".join(strangers)}},
            code="other_sandbox",
        )
    changed = []
    for field in fields:
        have = set(field.labels.values_list("pk", flat=True))
        wanted = {label.pk for label in labels}
        if add and wanted - have:
            field.labels.add(*labels)
            changed.append(field)
        elif not add and wanted & have:
            field.labels.remove(*labels)
            changed.append(field)
    if add and changed:
        signals.labels_changing.send(sender=Label, sandbox_id=sandbox.pk, paths={field.path for field in changed})
    return len(changed)
