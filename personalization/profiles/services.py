import datetime
import json
import math
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.permissions import CAN_INGEST_PROFILES, CAN_MANAGE_PROFILES
from personalization.profiles.identities import identity_problem
from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField
from personalization.services import delete_checked, save_checked

__all__ = [
    "ProfileUpsert",
    "identity_namespace_create",
    "identity_namespace_delete",
    "identity_namespace_update",
    "profile_field_create",
    "profile_field_delete",
    "profile_field_update",
    "profile_upsert",
    "unknown_namespace_message",
    "validate_profile_attributes",
]


def profile_field_create(*, user, sandbox, **fields) -> ProfileField:
    return save_checked(instance=ProfileField(sandbox=sandbox, **fields), user=user, rule=CAN_MANAGE_PROFILES)


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
    return save_checked(instance=field, user=user, rule=CAN_MANAGE_PROFILES, update=fields)


def profile_field_delete(*, user, field: ProfileField) -> None:
    """Delete a profile field; refused while destinations map it."""
    destinations = sorted(set(field.mappings.values_list("destination__name", flat=True)))
    if destinations:
        raise ValidationError(
            _("%(path)s is mapped on these destinations; remove the mappings first: %(names)s.")
            % {"path": field.path, "names": ", ".join(destinations)},
            code="field_in_use",
        )
    delete_checked(instance=field, user=user, rule=CAN_MANAGE_PROFILES)


def identity_namespace_create(*, user, sandbox, **fields) -> IdentityNamespace:
    return save_checked(instance=IdentityNamespace(sandbox=sandbox, **fields), user=user, rule=CAN_MANAGE_PROFILES)


def identity_namespace_update(*, user, namespace: IdentityNamespace, **fields) -> IdentityNamespace:
    if "code" in fields and fields["code"] != namespace.code and namespace.identities.exists():
        raise ValidationError(
            {"code": _("Identities already use this namespace; its code can no longer change.")}, code="code_in_use"
        )
    return save_checked(instance=namespace, user=user, rule=CAN_MANAGE_PROFILES, update=fields)


def identity_namespace_delete(*, user, namespace: IdentityNamespace) -> None:
    count = namespace.identities.count()
    if count:
        raise ValidationError(
            _("%(count)d identities use the namespace %(code)s; it cannot be deleted.")
            % {"count": count, "code": namespace.code},
            code="namespace_in_use",
        )
    delete_checked(instance=namespace, user=user, rule=CAN_MANAGE_PROFILES)


#
# Ingestion
#

PROFILE_ATTRIBUTES_MAX_BYTES = 100_000


@dataclass
class ProfileUpsert:
    """What `profile_upsert` did: the profile, whether it is new, and the identities it added."""

    profile: Profile
    created: bool
    identities_added: list = field(default_factory=list)


def merge_patch(target, patch):
    """Apply a JSON Merge Patch (RFC 7386): objects merge key by key, `null` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _number_problem(value) -> str | None:
    try:
        if math.isfinite(float(value)):
            return None
    except OverflowError:
        pass
    return _("%(value)s is outside the range of numbers a profile can hold (about ±1.8e308).") % {"value": value}


def _walk_numbers(value, path: str, errors: dict) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _walk_numbers(item, "%s.%s" % (path, key), errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk_numbers(item, "%s[%d]" % (path, index), errors)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        problem = _number_problem(value)
        if problem:
            errors[path] = problem


def _type_problem(value, field_type: str) -> str | None:
    FieldType = ProfileField.FieldType
    if field_type == FieldType.STRING and not isinstance(value, str):
        return _("a string")
    if field_type == FieldType.NUMBER and (isinstance(value, bool) or not isinstance(value, int | float)):
        return _("a number")
    if field_type == FieldType.BOOLEAN and not isinstance(value, bool):
        return _("true or false")
    if field_type == FieldType.ARRAY and not isinstance(value, list):
        return _("an array")
    if field_type == FieldType.MAP and not isinstance(value, dict):
        return _("an object")
    if field_type == FieldType.DATE:
        try:
            if len(value) == 10:
                datetime.date.fromisoformat(value)
            else:
                datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (TypeError, ValueError):
            return _("a date (YYYY-MM-DD) or an ISO date-time")
    return None


def _check_size(attributes) -> None:
    size = len(json.dumps(attributes, ensure_ascii=False).encode())
    if size > PROFILE_ATTRIBUTES_MAX_BYTES:
        raise ValidationError(
            {
                "attributes": _("The attributes take %(size)d bytes of JSON; the limit is %(limit)d.")
                % {"size": size, "limit": PROFILE_ATTRIBUTES_MAX_BYTES}
            },
            code="too_large",
        )


def validate_profile_attributes(*, sandbox, attributes, schema: dict | None = None) -> None:
    """
    Raise a `ValidationError` keyed `attributes.<path>` for every value that does not fit the sandbox's schema.

    Values of schema fields must have the field's type (or be null); paths outside the schema are free. Numbers
    must fit a double; the whole document at most `PROFILE_ATTRIBUTES_MAX_BYTES` of JSON.
    """
    if not isinstance(attributes, dict):
        raise ValidationError({"attributes": _("Attributes must be a JSON object.")}, code="invalid")
    _check_size(attributes)
    errors: dict[str, str] = {}
    _walk_numbers(attributes, "attributes", errors)
    if schema is None:
        schema = dict(ProfileField.objects.filter(sandbox=sandbox).values_list("path", "field_type"))
    for path, field_type in schema.items():
        value, parts = attributes, path.split(".")
        for depth, part in enumerate(parts):
            if value is None:  # missing (or null) on the way: nothing to check
                break
            if not isinstance(value, dict):
                holder = ".".join(parts[:depth])
                errors.setdefault(
                    "attributes." + holder,
                    _("%(holder)s must be an object: the schema has %(path)s inside it.")
                    % {"holder": holder, "path": path},
                )
                value = None
                break
            value = value.get(part)
        if value is None:
            continue
        expected = _type_problem(value, field_type)
        if expected:
            errors.setdefault(
                "attributes." + path,
                _("%(path)s is a %(type)s field; send %(expected)s or null, not %(value)s.")
                % {"path": path, "type": field_type, "expected": expected, "value": json.dumps(value)[:80]},
            )
    if errors:
        raise ValidationError({key: ValidationError(message, code="invalid") for key, message in errors.items()})


def _namespaces(sandbox, codes) -> dict:
    return {ns.code: ns for ns in IdentityNamespace.objects.filter(sandbox=sandbox, code__in=set(codes))}


def unknown_namespace_message(sandbox, code) -> str:
    """Say that `code` names no namespace of `sandbox`, and list the codes it has."""
    known = ", ".join(IdentityNamespace.objects.filter(sandbox=sandbox).values_list("code", flat=True)) or "-"
    return _(
        "No identity namespace has the code %(code)s in the sandbox %(sandbox)s; codes are case-sensitive. "
        "Known: %(known)s."
    ) % {"code": code, "sandbox": sandbox.name, "known": known}


def _clean_identities(sandbox, identities) -> list[dict]:
    """Check the body's identities; return them with their namespace objects."""
    errors = {}
    namespaces = _namespaces(sandbox, [item.get("namespace") for item in identities])
    cleaned = []
    for index, item in enumerate(identities):
        at = "identities[%d]" % index
        namespace = namespaces.get(item.get("namespace"))
        value = item.get("id")
        if namespace is None:
            errors[at + ".namespace"] = unknown_namespace_message(sandbox, item.get("namespace"))
        if not isinstance(value, str):
            errors[at + ".id"] = _("The identity value must be a string.")
        else:
            problem = identity_problem(value, namespace.code if namespace is not None else "")
            if problem is not None:
                errors[at + ".id"] = problem
        cleaned.append({"namespace": namespace, "value": value, "primary": bool(item.get("primary"))})
    if sum(1 for item in cleaned if item["primary"]) > 1:
        errors["identities"] = _("Mark at most one identity as primary.")
    if errors:
        raise ValidationError({key: ValidationError(message, code="invalid") for key, message in errors.items()})
    return cleaned


def profile_upsert(
    *,
    user,
    sandbox,
    namespace: str,
    value: str,
    attributes=None,
    identities=(),
    merge: bool = False,
    schema: dict | None = None,
) -> ProfileUpsert:
    """
    Create or update the profile that the identity `namespace`:`value` points at.

    `attributes` replace the profile's (`merge=False`, PUT) or are merged into them as a JSON Merge Patch
    (`merge=True`, PATCH; null removes a key). `identities` (`{"namespace", "id", "primary"}`) are added to the
    profile; identities are never removed here, and one that belongs to another profile is refused (profiles
    are not merged). `schema` (`{path: type}` of all profile fields) saves reading it when the caller has it.
    Needs Manage Profiles on the sandbox. All or nothing.
    """
    CAN_INGEST_PROFILES.require(user, sandbox)
    # Part of the caller's transaction when there is one (no savepoint round trips on the ingestion path).
    with transaction.atomic(savepoint=False):
        problem = identity_problem(value, namespace)
        if problem is not None:
            raise ValidationError({"id": ValidationError(problem, code="invalid")})
        wanted = _clean_identities(sandbox, list(identities)) if identities else []
        # The common case, an update, costs one query: the profile, locked, found through its identity.
        # No ORDER BY: `first()` would sort by a column and let the planner walk that index over every profile.
        found = (
            Profile.objects.select_for_update(of=("self",))
            .filter(
                sandbox=sandbox,
                # The identity's own sandbox too, so the lookup uses the (sandbox, namespace, value) unique index.
                identities__sandbox=sandbox,
                identities__namespace__code=namespace,
                identities__value=value,
            )
            .order_by()[:1]
        )
        profile = next(iter(found), None)
        created = profile is None
        path_namespace = None
        if created or wanted:
            path_namespace = _namespaces(sandbox, [namespace]).get(namespace)
            if path_namespace is None:
                raise ValidationError(
                    {"namespace": ValidationError(unknown_namespace_message(sandbox, namespace), code="unknown")}
                )
        if created:
            profile = Profile(sandbox=sandbox, attributes={})
        new_attributes = profile.attributes
        if attributes is not None:
            new_attributes = merge_patch(profile.attributes, attributes) if merge else attributes
        # Check what the caller sends (all of it for PUT, the patch for PATCH): old data never blocks an update.
        validate_profile_attributes(
            sandbox=sandbox, attributes=attributes if attributes is not None else {}, schema=schema
        )
        _check_size(new_attributes)
        profile.attributes = new_attributes
        owners = _identity_owners(sandbox, wanted) if wanted else {}
        errors = {
            "identities[%d]" % index: ValidationError(
                _("%(ns)s:%(value)s belongs to another profile; profiles are not merged.")
                % {"ns": item["namespace"].code, "value": item["value"]},
                code="identity_taken",
            )
            for index, item in enumerate(wanted)
            if owners.get((item["namespace"].pk, item["value"])) not in (None, profile.pk)
        }
        if errors:
            raise ValidationError(errors)
        # The attributes were validated above and the sandbox is the caller's: no full_clean() round trips.
        profile.save(force_insert=created)
        added = _attach_identities(profile, path_namespace, value, wanted, created) if created or wanted else []
    return ProfileUpsert(profile=profile, created=created, identities_added=added)


def _identity_owners(sandbox, wanted) -> dict:
    query = Q(pk__in=[])
    for item in wanted:
        query |= Q(namespace=item["namespace"], value=item["value"])
    rows = Identity.objects.filter(sandbox=sandbox).filter(query).values_list("namespace_id", "value", "profile_id")
    return {(namespace_id, value): profile_id for namespace_id, value, profile_id in rows}


def _attach_identities(profile, path_namespace, value, wanted, created) -> list:
    """Add the path's and the body's identities to `profile` and move the primary mark if one is given."""
    primary = next((item for item in wanted if item["primary"]), None)
    items = [{"namespace": path_namespace, "value": value, "primary": created and primary is None}, *wanted]
    existing = {
        (identity.namespace_id, identity.value): identity
        for identity in Identity.objects.filter(profile=profile).select_related("namespace")
    }
    if primary is not None:
        for identity in existing.values():
            if identity.primary and (identity.namespace_id, identity.value) != (
                primary["namespace"].pk,
                primary["value"],
            ):
                identity.primary = False
                identity.save(update_fields=["primary"])
    added = []
    for item in items:
        key = (item["namespace"].pk, item["value"])
        identity = existing.get(key)
        if identity is None:
            identity = Identity(
                sandbox=profile.sandbox,
                namespace=item["namespace"],
                value=item["value"],
                profile=profile,
                primary=item["primary"],
            )
            identity.full_clean()
            identity.save()
            existing[key] = identity
            added.append(identity)
        elif item["primary"] and not identity.primary:
            identity.primary = True
            identity.save(update_fields=["primary"])
    return added
