"""DRF error handling: model `ValidationError`s become 400s that name the field and the rule."""

from rest_framework import exceptions
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models

__all__ = ["drf_validation_error", "exception_handler"]


def _unique_constraint_field(model, error: DjangoValidationError) -> str | None:
    """Return the field a multi-field unique constraint is about (its last one), matched by its message."""
    if model is None:
        return None
    for constraint in model._meta.constraints:
        if (
            isinstance(constraint, models.UniqueConstraint)
            and constraint.fields
            and str(error.message) == str(constraint.violation_error_message)
        ):
            return constraint.fields[-1]
    return None


def drf_validation_error(
    exc: DjangoValidationError, *, model=None, error_fields: dict[str, str] | None = None
) -> exceptions.ValidationError:
    """
    Turn a model `ValidationError` into DRF's, keyed by field and keeping each rule's code.

    Errors that the model raises for the whole object are moved onto the field the caller has to change:
    a unique constraint violation (`datastream` + `alias`) onto its last field (`alias`), and any other
    code listed in `error_fields` (e.g. `too_many_mappings` → `destination`) onto that field.
    """
    error_fields = error_fields or {}
    errors = exc.error_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.error_list}
    detail: dict[str, list[ErrorDetail]] = {}
    for field, field_errors in errors.items():
        for error in field_errors:
            message = error.message % error.params if error.params else error.message
            code = error.code or "invalid"
            target = field
            if field == NON_FIELD_ERRORS:
                unique_field = _unique_constraint_field(model, error)
                if unique_field is not None:
                    target, code = unique_field, "unique"
                else:
                    target = error_fields.get(code, api_settings.NON_FIELD_ERRORS_KEY)
            detail.setdefault(target, []).append(ErrorDetail(str(message), code=code))
    return exceptions.ValidationError(detail=detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        view = context.get("view")
        queryset = getattr(view, "queryset", None)
        exc = drf_validation_error(
            exc,
            model=getattr(queryset, "model", None),
            error_fields=getattr(view, "error_fields", None),
        )
    elif isinstance(exc, IntegrityError):
        # A race past clean(): another request wrote the same unique key between validation and save.
        exc = exceptions.ValidationError(
            {"non_field_errors": ["This conflicts with an object saved at the same moment; reload and try again."]}
        )
    return drf_exception_handler(exc, context)
