"""Validators and checks shared by several domain models."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

__all__ = [
    "dotted_path_validator",
    "field_error",
    "json_key_validator",
    "namespace_code_validator",
    "require_same_sandbox",
]

dotted_path_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
    _("Use a dotted path of letters, digits and underscores, e.g. homeAddress.countryCode."),
    code="invalid_path",
)

namespace_code_validator = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
    _("Use letters, digits and underscores, starting with a letter, e.g. ECID or Email_LC_SHA256."),
    code="invalid_code",
)

json_key_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
    _(
        "Use 1–64 letters, digits or underscores, starting with a letter or underscore; "
        "the name becomes a JSON key in the lookup response."
    ),
    code="invalid_key",
)


def require_same_sandbox(owner, **related) -> None:
    """Raise a field error for each related object that lives in a different sandbox than `owner`."""
    errors = {}
    for field, obj in related.items():
        if obj is not None and owner.sandbox_id is not None and obj.sandbox_id != owner.sandbox_id:
            errors[field] = ValidationError(
                _("%(object)s belongs to another sandbox; pick one from this sandbox."),
                code="cross_sandbox",
                params={"object": obj},
            )
    if errors:
        raise ValidationError(errors)


def field_error(field: str, message, code: str, **params) -> ValidationError:
    """Build a `ValidationError` attached to `field`, with its code and message parameters."""
    return ValidationError({field: ValidationError(message, code=code, params=params or None)})
