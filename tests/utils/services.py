"""Tests that need a real service skip when it is missing, except where the run demands every service."""

import os

import pytest

__all__ = ["missing_service", "services_required"]


def services_required() -> bool:
    """CI sets REQUIRE_SERVICES=1: a missing PostgreSQL, Redis or Chromium is then a broken environment."""
    return os.environ.get("REQUIRE_SERVICES") == "1"


def missing_service(reason: str):
    """Skip the test, or fail it when every service is required."""
    if services_required():
        pytest.fail("%s, and REQUIRE_SERVICES=1" % reason)
    pytest.skip(reason)
