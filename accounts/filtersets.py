"""The audit log's one FilterSet, shared by its page and its API."""

import django_filters
from auditlog.registry import auditlog

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEntry, Sandbox
from accounts.permissions import CAN_VIEW_AUDIT_LOG

__all__ = ["AuditEntryFilterSet", "audited_kinds"]

# What happened: a configuration change (auditlog's action) or a sign-in event (ours).
_CHANGES = {"create": AuditEntry.Action.CREATE, "update": AuditEntry.Action.UPDATE, "delete": AuditEntry.Action.DELETE}
ACTIONS = (
    ("create", _("Created")),
    ("update", _("Changed")),
    ("delete", _("Deleted")),
    ("sign_in", _("Signed in")),
    ("sign_out", _("Signed out")),
    ("sign_in_failed", _("Sign-in failed")),
    ("locked_out", _("Locked out")),
)


def audited_kinds() -> list[tuple[str, str]]:
    """Return `(model name, readable name)` of every audited model, for the kind filter."""
    models = sorted(auditlog.get_models(), key=lambda model: str(model._meta.verbose_name))
    return [(model._meta.model_name, str(model._meta.verbose_name).capitalize()) for model in models]


def _readable_sandboxes(request):
    if request is None:
        return Sandbox.objects.none()
    return Sandbox.objects.filter(pk__in=CAN_VIEW_AUDIT_LOG.sandbox_ids(request.user)).order_by("name")


class AuditEntryFilterSet(django_filters.FilterSet):
    """Filters of the audit log; the entries it is given are already those the user may read."""

    q = django_filters.CharFilter(
        method="search", label=_("Object or user"), widget=forms.TextInput(attrs={"type": "search"})
    )
    object_type = django_filters.ChoiceFilter(
        field_name="content_type__model", choices=audited_kinds, label=_("Kind"), method="of_kind", empty_label=_("Any")
    )
    action = django_filters.ChoiceFilter(
        choices=ACTIONS, label=_("What happened"), method="by_action", empty_label=_("Any")
    )
    sandbox = django_filters.ModelChoiceFilter(
        queryset=_readable_sandboxes, to_field_name="name", label=_("Sandbox"), empty_label=_("Any")
    )
    since = django_filters.DateFilter(
        field_name="timestamp__date", lookup_expr="gte", label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    until = django_filters.DateFilter(
        field_name="timestamp__date",
        lookup_expr="lte",
        label=_("Until"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEntry
        fields = ["q", "object_type", "action", "sandbox", "since", "until"]

    def search(self, entries, name, value):
        value = value.strip()
        if not value:
            return entries
        return entries.filter(Q(object_repr__icontains=value) | Q(actor__username__icontains=value))

    def of_kind(self, entries, name, value):
        return entries.filter(content_type__model=value, event="")

    def by_action(self, entries, name, value):
        if value in _CHANGES:
            return entries.filter(action=_CHANGES[value], event="")
        return entries.filter(event=value)
