"""Choices a destination offers that apps above it store: the alerts of its dataflow runs."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["AlertType"]


class AlertType(models.TextChoices):
    ACTIVATION_SKIPPED_RATE = "activation_skipped_rate", _("Activation Skipped Rate Exceeded")
    RUN_FAILURE = "run_failure", _("Destination Flow Run Failure")
    RUN_DELAY = "run_delay", _("Destination Flow Run Delay")
