"""
The destinations workspace: Catalog and Browse tabs, the destination page, and the small write pages around
them (edit, delete, enable/disable, alert subscriptions). Connecting and activating are the wizards.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, TemplateView, View
from django.views.generic.detail import SingleObjectMixin

from accounts.permissions import (
    CAN_ACTIVATE,
    CAN_CONNECT_DESTINATIONS,
    CAN_SUBSCRIBE_TO_ALERTS,
    CAN_VIEW_DATASTREAMS,
    CAN_VIEW_DESTINATIONS,
    SandboxPermissionRequiredMixin,
)
from personalization import generic_views as generic
from personalization.destinations.filtersets import DestinationFilterSet
from personalization.destinations.forms import AlertSubscriptionForm, DestinationEditForm
from personalization.destinations.models import (
    MAX_DESTINATIONS_PER_SANDBOX,
    WARN_PERSONALIZATION_DESTINATIONS,
    Destination,
)
from personalization.destinations.selectors import destination_kind_counts
from personalization.destinations.services import destination_alerts_choose, destination_delete, destination_update
from personalization.destinations.wizards import DestinationActivationWizard, DestinationConnectWizard

__all__ = [
    "DestinationActivationWizard",
    "DestinationAlertsView",
    "DestinationCatalogView",
    "DestinationConnectWizard",
    "DestinationDeleteView",
    "DestinationDetailView",
    "DestinationEditView",
    "DestinationEnabledView",
    "DestinationListView",
]


def _abilities(user, sandbox) -> dict[str, bool]:
    """What `user` may do with destinations of `sandbox`, for templates that show only the allowed buttons."""
    return {
        "connect": CAN_CONNECT_DESTINATIONS.allows(user, sandbox),
        "manage": CAN_CONNECT_DESTINATIONS.allows(user, sandbox),
        "activate": CAN_ACTIVATE.allows(user, sandbox),
        "subscribe": CAN_SUBSCRIBE_TO_ALERTS.allows(user, sandbox),
        "view_datastreams": CAN_VIEW_DATASTREAMS.allows(user, sandbox),
    }


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


#
# Catalog
#


@dataclass(frozen=True)
class CatalogCard:
    kind: str
    title: str
    summary: str
    returns: str
    connections: int


CARD_TEXT = {
    Destination.Kind.CUSTOM_PERSONALIZATION: (
        _(
            "Lets your website, CMS or ad server ask, per visitor, which audiences they belong to and personalize "
            "the page with it. Works with the Web SDK, the Mobile SDK and the Edge Network API."
        ),
        _("Returns: the IDs of the activated audiences the visitor is in."),
    ),
    Destination.Kind.WITH_ATTRIBUTES: (
        _(
            "Everything Custom Personalization does, plus profile attributes you map (for example a loyalty tier) "
            "under names you choose. Attributes only go to server callers authenticated with an API credential."
        ),
        _("Returns: audience IDs, plus the mapped attributes for authenticated server calls."),
    ),
}


class DestinationCatalogView(SandboxPermissionRequiredMixin, TemplateView):
    """The two catalog cards, each offering Set up or Activate audiences as the sandbox and the user's role allow."""

    rule = CAN_VIEW_DESTINATIONS
    current_sandbox_only = True
    template_name = "destinations/catalog.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        sandbox = self.request.sandbox
        counts = destination_kind_counts(sandbox=sandbox)
        total = sum(counts.values())
        context.update(
            cards=[
                CatalogCard(kind.value, kind.label, *CARD_TEXT[kind], connections=counts[kind.value])
                for kind in Destination.Kind
            ],
            can=_abilities(self.request.user, sandbox),
            total_destinations=total,
            at_hard_limit=total >= MAX_DESTINATIONS_PER_SANDBOX,
            hard_limit=MAX_DESTINATIONS_PER_SANDBOX,
            over_soft_limit=total >= WARN_PERSONALIZATION_DESTINATIONS,
            soft_limit=WARN_PERSONALIZATION_DESTINATIONS,
            tab="catalog",
        )
        return context


#
# Browse and the destination page
#


class DestinationListView(generic.ObjectListView):
    """The Browse tab: one row per connection, with its status toggle and row actions."""

    view_rule = CAN_VIEW_DESTINATIONS
    manage_rule = CAN_CONNECT_DESTINATIONS
    queryset = Destination.objects.select_related("datastream").annotate(activation_count=Count("activations"))
    filterset_class = DestinationFilterSet
    filter_fields = ("q", "kind", "datastream", "enabled")
    template_name = "destinations/destination_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(can=_abilities(self.request.user, self.request.sandbox), tab="browse")
        return context


class DestinationDetailView(generic.ObjectDetailView):
    """Connection details, activation data (audiences, schedule, mappings), alert subscriptions and dataflow runs."""

    view_rule = CAN_VIEW_DESTINATIONS
    manage_rule = CAN_CONNECT_DESTINATIONS
    actions = ("edit", "delete")
    queryset = Destination.objects.select_related("sandbox", "datastream", "created_by")
    template_name = "destinations/destination_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        destination = self.object
        context.update(
            can=_abilities(self.request.user, destination.sandbox),
            marketing_actions=destination.marketing_actions.all(),
            activations=destination.activations.select_related("audience").order_by("audience__name"),
            mappings=destination.mappings.select_related("source").order_by("target"),
            my_alerts=destination.alert_subscriptions.filter(user=self.request.user),
            runs=destination.runs.select_related("audience")[:20],
        )
        return context


class DestinationEditView(generic.ObjectEditView):
    view_rule = CAN_VIEW_DESTINATIONS
    manage_rule = CAN_CONNECT_DESTINATIONS
    queryset = Destination.objects.select_related("sandbox")
    form_class = DestinationEditForm
    service = staticmethod(destination_update)
    object_kwarg = "destination"


class DestinationDeleteView(generic.ObjectDeleteView):
    """Confirm a deletion by naming what stops: the alias in lookups, its audiences, attributes and alerts."""

    view_rule = CAN_VIEW_DESTINATIONS
    manage_rule = CAN_CONNECT_DESTINATIONS
    queryset = Destination.objects.select_related("sandbox", "datastream")
    service = staticmethod(destination_delete)
    object_kwarg = "destination"
    template_name = "destinations/destination_delete.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        destination = self.object
        context.update(
            activations=destination.activations.select_related("audience").order_by("audience__name"),
            mappings=destination.mappings.select_related("source").order_by("target"),
            subscriber_count=destination.alert_subscriptions.values("user").distinct().count(),
        )
        return context


class DestinationEnabledView(SandboxPermissionRequiredMixin, SingleObjectMixin, View):
    """Enable or disable a destination (POST `enabled=1|0`); a disabled one is left out of every lookup."""

    rule = CAN_CONNECT_DESTINATIONS
    visible_with = CAN_VIEW_DESTINATIONS
    queryset = Destination.objects.all()
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        destination = self.get_object()
        enabled = request.POST.get("enabled") == "1"
        try:
            destination_update(user=request.user, destination=destination, enabled=enabled)
        except ValidationError as error:
            # E.g. its datastream no longer allows personalization destinations: say why, change nothing.
            messages.error(request, " ".join(error.messages))
            return redirect(_safe_next(request, destination.get_absolute_url()))
        if enabled:
            message = _("%(name)s is enabled: lookups on its datastream include it again.")
        else:
            message = _("%(name)s is disabled: lookups leave it out until you enable it again.")
        messages.success(request, message % {"name": destination.name})
        return redirect(_safe_next(request, destination.get_absolute_url()))


class DestinationAlertsView(SandboxPermissionRequiredMixin, SingleObjectMixin, FormView):
    """Subscribe to (or unsubscribe from) this destination's alerts; the subscriptions are the user's own."""

    rule = CAN_SUBSCRIBE_TO_ALERTS
    visible_with = CAN_VIEW_DESTINATIONS
    queryset = Destination.objects.select_related("sandbox")
    form_class = AlertSubscriptionForm
    template_name = "destinations/destination_alerts.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and self.has_permission():
            self.object = self.get_object()
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        mine = self.object.alert_subscriptions.filter(user=self.request.user)
        return {"alert_types": list(mine.values_list("alert_type", flat=True))}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["next_url"] = _safe_next(self.request, "")
        return context

    def form_valid(self, form):
        destination_alerts_choose(
            user=self.request.user, destination=self.object, alert_types=form.cleaned_data["alert_types"]
        )
        messages.success(self.request, _("Your alerts for %(name)s are saved.") % {"name": self.object.name})
        return redirect(_safe_next(self.request, self.object.get_absolute_url()))
