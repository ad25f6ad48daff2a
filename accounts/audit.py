"""
The audit log: which models are audited and how, who the actor is, and the sign-in events.

django-auditlog writes an `AuditEntry` for every create, update and delete of a registered model (its
signals fire for `save()` and `delete()`; bulk `QuerySet.update()` is not caught, see docs/decisions.md).
Each app registers its configuration models in its `AppConfig.ready()` through `register()` below.
"""

from contextvars import ContextVar

from auditlog.cid import set_cid
from auditlog.middleware import AuditlogMiddleware
from auditlog.registry import auditlog
from axes.signals import user_locked_out

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import pre_save
from django.dispatch import receiver

from accounts.models import AuditEntry

__all__ = ["AuditActorMiddleware", "mask_secret", "record_sign_in_event", "register"]

MASK = "••••••••"
# Bookkeeping that changes on its own (timestamps, counters): never worth a log line.
_ALWAYS_EXCLUDED = ("created_at", "updated_at", "last_used_at")

_current_request: ContextVar = ContextVar("audit_request", default=None)


def mask_secret(value) -> str:
    """Hide a secret (digest, salt) completely: even part of a digest helps nobody reading the log."""
    return MASK


def register(model, *, exclude=(), mask=(), m2m=()) -> None:
    """Audit every create, update and delete of `model`, masking the `mask` fields."""
    if auditlog.contains(model):
        return
    auditlog.register(
        model,
        exclude_fields=[*_ALWAYS_EXCLUDED, *exclude],
        mask_fields=list(mask),
        m2m_fields=set(m2m),
    )


class AuditActorMiddleware(AuditlogMiddleware):
    """
    Record the signed-in user as each change's actor, and API calls' users too.

    The management API authenticates personal tokens inside the view, after middleware ran, so the entry
    looks at the request's user when it is written. Unlike auditlog's own middleware this connects no signal
    receiver per request (which would empty Django's receiver caches on every request, lookups included): one
    receiver, connected once, reads the request from a context variable.
    """

    def __call__(self, request):
        set_cid(request)
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def _client_address(request):
    return AuditlogMiddleware._get_remote_addr(request) if request is not None else None


@receiver(pre_save, sender="accounts.AuditEntry")
def _fill_actor_from_the_request(sender, instance, **kwargs):
    request = _current_request.get()
    if request is None:
        return
    user = getattr(request, "user", None)
    if instance.actor_id is None and isinstance(user, get_user_model()) and user.is_authenticated:
        instance.actor = user
        instance.actor_email = user.email
    if instance.remote_addr is None:
        instance.remote_addr = _client_address(request)
    via = getattr(request, "audit_via", None)
    if via:
        instance.additional_data = {**(instance.additional_data or {}), "via": via}


def record_sign_in_event(*, event, username: str, user=None, request=None, note: str = ""):
    """Write a sign-in event (signed in or out, failed, locked out) for `username`."""
    model = get_user_model()
    entry = AuditEntry(
        content_type=ContentType.objects.get_for_model(model),
        object_pk=str(user.pk) if user is not None else "",
        object_id=user.pk if user is not None else None,
        object_repr=username,
        action=AuditEntry.Action.ACCESS,
        event=event,
        changes_text=note,
        actor=user if event in (AuditEntry.Event.SIGN_IN, AuditEntry.Event.SIGN_OUT) else None,
        actor_email=getattr(user, "email", None) if user is not None else None,
        remote_addr=_client_address(request),
    )
    entry.save()
    return entry


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    record_sign_in_event(event=AuditEntry.Event.SIGN_IN, username=user.get_username(), user=user, request=request)


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs):
    if user is not None:
        record_sign_in_event(event=AuditEntry.Event.SIGN_OUT, username=user.get_username(), user=user, request=request)


def _user_named(username):
    if not username:
        return None
    return get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()


@receiver(user_login_failed)
def _sign_in_failed(sender, credentials, request=None, **kwargs):
    username = credentials.get("username", "")
    if request is None:
        return  # a check from code (management command), not somebody trying to sign in
    record_sign_in_event(
        event=AuditEntry.Event.SIGN_IN_FAILED, username=username, user=_user_named(username), request=request
    )


def _locked_out(sender, request, username, ip_address, **kwargs):
    record_sign_in_event(
        event=AuditEntry.Event.LOCKED_OUT,
        username=username or "",
        user=_user_named(username),
        request=request,
        note="too many failed sign-ins",
    )


def connect_lockout_signal():
    user_locked_out.connect(_locked_out, dispatch_uid="audit-locked-out")
