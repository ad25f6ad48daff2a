"""Alert pages: notifications (the bell), the Alerts page (rules, subscriptions, recipients) and its history."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, FormView, ListView, TemplateView
from django.views.generic.detail import SingleObjectMixin

from accounts.permissions import (
    CAN_MANAGE_ALERTS,
    CAN_OPEN_ALERTS,
    CAN_RESOLVE_ALERTS,
    CAN_SUBSCRIBE_TO_ALERTS,
    CAN_VIEW_ALERTS,
    CAN_VIEW_ALERTS_HISTORY,
    SandboxPermissionRequiredMixin,
    in_sandbox,
    restrict,
)
from personalization.alerts.delivery import webhook_endpoint_create, webhook_endpoint_delete, webhook_test_deliver
from personalization.alerts.filtersets import AlertEventFilterSet
from personalization.alerts.forms import AlertRecipientsForm, AlertSubscriptionEditForm, WebhookEndpointForm
from personalization.alerts.models import AlertEvent, WebhookEndpoint
from personalization.alerts.selectors import alert_rows, alert_rules, notifications_for, users_who_can_view_alerts
from personalization.alerts.services import (
    alert_event_resolve,
    alert_recipients_set,
    alert_rule_enable,
    alert_subscription_save,
    notifications_mark_read,
)
from personalization.destinations.models import Destination

__all__ = [
    "AlertHistoryView",
    "AlertRecipientsSaveView",
    "AlertResolveView",
    "AlertRuleEnableView",
    "AlertSubscriptionSaveView",
    "AlertsView",
    "NotificationListView",
    "NotificationsReadView",
    "WebhookDeleteView",
    "WebhookEndpointCreateView",
    "WebhookEndpointDetailView",
    "WebhookEndpointListView",
    "WebhookTestView",
]


def form_errors_text(form) -> str:
    """Return a form's errors as one sentence per field, named by its label."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append("%s: %s" % (label, " ".join(errors)) if label else " ".join(errors))
    return " ".join(parts)


def _back(request, fallback="alerts:alerts"):
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect(fallback)


class NotificationListView(SandboxPermissionRequiredMixin, ListView):
    """Every notification of the user, from each sandbox where they may view alerts, newest first."""

    rule = CAN_VIEW_ALERTS
    template_name = "alerts/notification_list.html"
    paginate_by = 50
    context_object_name = "notifications"

    def get_queryset(self):
        return notifications_for(self.request.user)


class NotificationsReadView(SandboxPermissionRequiredMixin, View):
    """POST `notification` (one id, or none for all): mark the user's own notifications read, then go back."""

    rule = CAN_VIEW_ALERTS
    http_method_names = ["post"]

    def post(self, request):
        chosen = request.POST.get("notification", "")
        notifications_mark_read(user=request.user, notification_ids=[chosen] if chosen.isdigit() else None)
        return _back(request, "alerts:notification_list")


#
# The Alerts page: the rules and who hears about them, the history of triggered alerts
#


def _tabs(request) -> dict:
    """What the Alerts workspace's tabs show: History and Webhooks for those who may open them."""
    return {
        "can_history": CAN_VIEW_ALERTS_HISTORY.allows(request.user, request.sandbox),
        "can_manage": CAN_MANAGE_ALERTS.allows(request.user, request.sandbox),
    }


class _CurrentSandboxPage(SandboxPermissionRequiredMixin):
    current_sandbox_only = True

    def destinations(self):
        """The current sandbox's destinations, as far as the page's own rule shows them."""
        destinations = restrict(Destination.objects.all(), self.request.user, self.declared_rule())
        return in_sandbox(destinations, self.request.sandbox).order_by("name")


class AlertsView(_CurrentSandboxPage, TemplateView):
    """The alert rules, the user's subscriptions per destination, and (Manage Alerts) everyone's and recipients."""

    rule = CAN_OPEN_ALERTS
    template_name = "alerts/alerts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, sandbox = self.request.user, self.request.sandbox
        context.update(
            rules=alert_rules(sandbox),
            destinations=alert_rows(user=user, destinations=list(self.destinations())),
            can_manage=CAN_MANAGE_ALERTS.allows(user, sandbox),
            can_history=CAN_VIEW_ALERTS_HISTORY.allows(user, sandbox),
            can_subscribe=CAN_SUBSCRIBE_TO_ALERTS.allows(user, sandbox),
        )
        if context["can_manage"]:
            context["subscribable_users"] = users_who_can_view_alerts(sandbox)
        return context


class AlertSubscriptionSaveView(_CurrentSandboxPage, View):
    """POST one alert of one destination: subscribe (with email and threshold) or unsubscribe, then go back."""

    rule = CAN_SUBSCRIBE_TO_ALERTS
    http_method_names = ["post"]

    def post(self, request, pk):
        destination = get_object_or_404(self.destinations(), pk=pk)
        form = AlertSubscriptionEditForm(request.POST)
        if not form.is_valid():
            messages.error(request, form_errors_text(form))
            return _back(request)
        subscriber = None
        if form.cleaned_data["subscriber"]:
            subscriber = get_object_or_404(
                users_who_can_view_alerts(request.sandbox), pk=form.cleaned_data["subscriber"]
            )
        try:
            alert_subscription_save(
                user=request.user,
                destination=destination,
                alert_type=form.cleaned_data["alert_type"],
                subscribed=form.cleaned_data["subscribed"],
                email=form.cleaned_data["email"],
                threshold=form.cleaned_data["threshold"],
                subscriber=subscriber,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return _back(request)
        messages.success(request, _("Alert subscriptions of %(name)s saved.") % {"name": destination.name})
        return _back(request)


class AlertRecipientsSaveView(_CurrentSandboxPage, View):
    """POST the external email addresses that also receive one alert of a destination (Manage Alerts)."""

    rule = CAN_MANAGE_ALERTS
    http_method_names = ["post"]

    def post(self, request, pk):
        destination = get_object_or_404(self.destinations(), pk=pk)
        form = AlertRecipientsForm(request.POST)
        if not form.is_valid():
            messages.error(request, form_errors_text(form))
            return _back(request)
        try:
            alert_recipients_set(
                user=request.user,
                destination=destination,
                alert_type=form.cleaned_data["alert_type"],
                emails=form.addresses(),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return _back(request)
        messages.success(request, _("Email recipients of %(name)s saved.") % {"name": destination.name})
        return _back(request)


class AlertRuleEnableView(_CurrentSandboxPage, View):
    """POST `alert_type` and `enabled`: switch one rule on or off in the current sandbox (Manage Alerts)."""

    rule = CAN_MANAGE_ALERTS
    http_method_names = ["post"]

    def post(self, request):
        try:
            setting = alert_rule_enable(
                user=request.user,
                sandbox=request.sandbox,
                alert_type=request.POST.get("alert_type", ""),
                enabled=request.POST.get("enabled") == "on",
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return _back(request)
        if setting.enabled:
            messages.success(request, _("%(rule)s is on.") % {"rule": setting.get_alert_type_display()})
        else:
            messages.success(
                request,
                _("%(rule)s is off: runs that breach it raise no alert in this sandbox.")
                % {"rule": setting.get_alert_type_display()},
            )
        return _back(request)


class AlertHistoryView(_CurrentSandboxPage, ListView):
    """Alerts triggered in the sandbox, newest first, with when they resolved; Resolve for Resolve Alerts."""

    rule = CAN_VIEW_ALERTS_HISTORY
    template_name = "alerts/alert_history.html"
    paginate_by = 50
    context_object_name = "events"

    def get_queryset(self):
        events = in_sandbox(
            restrict(AlertEvent.objects.all(), self.request.user, CAN_VIEW_ALERTS_HISTORY), self.request.sandbox
        )
        self.filterset = AlertEventFilterSet(self.request.GET or None, queryset=events, request=self.request)
        chosen = self.filterset.qs if self.filterset.is_bound else events
        return chosen.select_related("destination", "run").order_by("-created_at", "-pk")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(_tabs(self.request), filter_form=self.filterset.form)
        context["can_resolve"] = CAN_RESOLVE_ALERTS.allows(self.request.user, self.request.sandbox)
        return context


class AlertResolveView(SandboxPermissionRequiredMixin, View):
    """POST: resolve one triggered alert by hand (Resolve Alerts on its sandbox)."""

    rule = CAN_RESOLVE_ALERTS
    http_method_names = ["post"]

    def post(self, request, pk):
        events = restrict(AlertEvent.objects.select_related("destination"), request.user, CAN_RESOLVE_ALERTS)
        event = get_object_or_404(events, pk=pk)
        alert_event_resolve(user=request.user, event=event)
        messages.success(request, _("The alert is resolved."))
        return _back(request, "alerts:alert_history")


#
# Webhooks (Manage Alerts)
#


class _Webhooks(SandboxPermissionRequiredMixin):
    rule = CAN_MANAGE_ALERTS


class WebhookEndpointListView(_Webhooks, ListView):
    current_sandbox_only = True
    queryset = WebhookEndpoint.objects.all()
    template_name = "alerts/webhookendpoint_list.html"
    context_object_name = "endpoints"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **_tabs(self.request)}


class WebhookEndpointCreateView(_Webhooks, FormView):
    """Register an endpoint and show its signing secret exactly once, in the answer to the POST that made it."""

    current_sandbox_only = True
    form_class = WebhookEndpointForm
    template_name = "alerts/webhookendpoint_form.html"

    def form_valid(self, form):
        try:
            endpoint, secret = webhook_endpoint_create(
                user=self.request.user, sandbox=self.request.sandbox, **form.cleaned_data
            )
        except ValidationError as error:
            # A plain form (not a ModelForm): `generic_views.add_service_errors` reads a model form's fields.
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return self.form_invalid(form)
        response = render(self.request, "alerts/webhookendpoint_created.html", {"endpoint": endpoint, "secret": secret})
        response["Cache-Control"] = "no-store"
        return response


class WebhookEndpointDetailView(_Webhooks, DetailView):
    """The endpoint, its alerts, and every delivery attempt with its answer."""

    queryset = WebhookEndpoint.objects.all()
    template_name = "alerts/webhookendpoint_detail.html"
    context_object_name = "endpoint"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["deliveries"] = self.object.deliveries.select_related("event").order_by("-created_at", "-pk")[:100]
        return context


class WebhookTestView(_Webhooks, SingleObjectMixin, View):
    """POST: send a signed test message to the endpoint now and show what it answered."""

    queryset = WebhookEndpoint.objects.all()
    http_method_names = ["post"]

    def post(self, request, pk):
        endpoint = self.get_object()
        attempt = webhook_test_deliver(user=request.user, endpoint=endpoint)
        if attempt.succeeded:
            messages.success(
                request, _("The test message was delivered (HTTP %(status)s).") % {"status": attempt.status_code}
            )
        else:
            messages.error(
                request,
                _("The test message was not delivered: %(why)s. Check the URL and that the receiver answers 2xx.")
                % {"why": attempt.error or "HTTP %s" % attempt.status_code},
            )
        return redirect(endpoint)


class WebhookDeleteView(_Webhooks, SingleObjectMixin, View):
    queryset = WebhookEndpoint.objects.all()
    http_method_names = ["post"]

    def post(self, request, pk):
        endpoint = self.get_object()
        webhook_endpoint_delete(user=request.user, endpoint=endpoint)
        messages.success(request, _("%(name)s was deleted; no alert is sent to it any more.") % {"name": endpoint.name})
        return redirect("alerts:webhookendpoint_list")
