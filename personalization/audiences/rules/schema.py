"""What the evaluators need to know about a sandbox's profile schema."""

from personalization.profiles.models import ProfileField

__all__ = ["field_types_for"]


def field_types_for(sandbox_id) -> dict[str, str]:
    """Return `{path: type}` for the sandbox's scalar profile fields (the only ones rules may compare)."""
    rows = ProfileField.objects.filter(sandbox_id=sandbox_id, field_type__in=ProfileField.SCALAR_TYPES)
    return dict(rows.values_list("path", "field_type"))
