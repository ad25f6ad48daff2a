"""Sign-in lockout (django-axes): who is locked out now, and the login page a locked-out visitor sees."""

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from axes.models import AccessAttempt

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

__all__ = ["TOKEN_PATH", "SignInThrottleBackend", "locked_usernames", "lockout_parameters", "lockout_response"]

# The OAuth token endpoint: its failed attempts are counted like sign-ins, per client id and address.
TOKEN_PATH = "/oauth/token"  # noqa: S105 (a path, not a secret)


class SignInThrottleBackend(AxesStandaloneBackend):
    """
    Refuse sign-ins of locked-out accounts; calls without a request (management commands, the shell) pass through.

    Every sign-in over HTTP comes with its request (the login form, the admin), so throttling covers them all;
    internal callers such as `seed_demo`'s checks call `authenticate()` without one and are not throttled.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_parameters(request_or_attempt, credentials=None):
    """
    Lock a user's sign-ins by username, and an API client id's token requests by client id and address together,
    so a stranger guessing secrets cannot lock out the server that holds the real one.
    """
    path = getattr(request_or_attempt, "axes_path_info", None) or getattr(request_or_attempt, "path_info", "")
    return [["username", "ip_address"]] if path == TOKEN_PATH else ["username"]


def _minutes(delta) -> int:
    return max(1, round(delta.total_seconds() / 60))


def locked_usernames(usernames) -> set[str]:
    """Return which of `usernames` are locked out now (too many failed sign-ins within the cool-off time)."""
    attempts = AccessAttempt.objects.filter(
        username__in=list(usernames), failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    )
    cool_off = get_cool_off()
    if cool_off:
        attempts = attempts.filter(attempt_time__gt=timezone.now() - cool_off)
    return set(attempts.values_list("username", flat=True))


def lockout_response(request, original_response=None, credentials=None):
    """Show the login page again with a message saying the account is locked, for how long, and what to do."""
    message = _(
        "Too many failed sign-ins: this account is locked for %(minutes)d minutes. "
        "Try again later, or ask an administrator to unlock it from the Users page."
    ) % {"minutes": _minutes(get_cool_off(request))}
    form = AuthenticationForm(request, initial={"username": (credentials or {}).get("username", "")})
    return render(request, "accounts/login.html", {"form": form, "lockout_message": message}, status=429)
