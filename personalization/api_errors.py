"""DRF error handling: model `ValidationError`s become 400s that name the field and the rule."""

from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, IntegrityError):
        # A race past clean(): another request wrote the same unique key between validation and save.
        exc = exceptions.ValidationError(
            {"non_field_errors": ["This conflicts with an object saved at the same moment; reload and try again."]}
        )
    return drf_exception_handler(exc, context)
