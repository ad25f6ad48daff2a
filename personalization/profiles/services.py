from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.constants import MANAGE_PROFILES
from personalization.profiles.models import IdentityNamespace, ProfileField
from personalization.services import delete_checked, save_checked

__all__ = [
    "identity_namespace_create",
    "identity_namespace_delete",
    "identity_namespace_update",
    "profile_field_create",
    "profile_field_delete",
    "profile_field_update",
]


def profile_field_create(*, user, sandbox, **fields) -> ProfileField:
    return save_checked(instance=ProfileField(sandbox=sandbox, **fields), user=user, codename=MANAGE_PROFILES)


def profile_field_update(*, user, field: ProfileField, **fields) -> ProfileField:
    if "field_type" in fields and fields["field_type"] != field.field_type and field.mappings.exists():
        targets = ", ".join(field.mappings.values_list("target", flat=True))
        raise ValidationError(
            {
                "field_type": _(
                    "Remove the attribute mappings that send this field (%(targets)s) before changing its type."
                )
                % {"targets": targets}
            },
            code="field_in_use",
        )
    return save_checked(instance=field, user=user, codename=MANAGE_PROFILES, update=fields)


def profile_field_delete(*, user, field: ProfileField) -> None:
    """Delete a profile field; refused while destinations map it."""
    destinations = sorted(set(field.mappings.values_list("destination__name", flat=True)))
    if destinations:
        raise ValidationError(
            _("%(path)s is mapped on these destinations; remove the mappings first: %(names)s.")
            % {"path": field.path, "names": ", ".join(destinations)},
            code="field_in_use",
        )
    delete_checked(instance=field, user=user, codename=MANAGE_PROFILES)


def identity_namespace_create(*, user, sandbox, **fields) -> IdentityNamespace:
    return save_checked(instance=IdentityNamespace(sandbox=sandbox, **fields), user=user, codename=MANAGE_PROFILES)


def identity_namespace_update(*, user, namespace: IdentityNamespace, **fields) -> IdentityNamespace:
    if "code" in fields and fields["code"] != namespace.code and namespace.identities.exists():
        raise ValidationError(
            {"code": _("Identities already use this namespace; its code can no longer change.")}, code="code_in_use"
        )
    return save_checked(instance=namespace, user=user, codename=MANAGE_PROFILES, update=fields)


def identity_namespace_delete(*, user, namespace: IdentityNamespace) -> None:
    count = namespace.identities.count()
    if count:
        raise ValidationError(
            _("%(count)d identities use the namespace %(code)s; it cannot be deleted.")
            % {"count": count, "code": namespace.code},
            code="namespace_in_use",
        )
    delete_checked(instance=namespace, user=user, codename=MANAGE_PROFILES)
