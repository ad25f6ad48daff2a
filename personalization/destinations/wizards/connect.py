"""The connect wizard: Connection parameters → Alerts → Marketing actions → Save & Exit, or Next into activation."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_ACTIVATE, CAN_CONNECT_DESTINATIONS, CAN_SUBSCRIBE_TO_ALERTS
from personalization.destinations.forms import AlertSubscriptionForm, DestinationConnectionForm, MarketingActionsForm
from personalization.destinations.models import (
    MAX_DESTINATIONS_PER_SANDBOX,
    WARN_PERSONALIZATION_DESTINATIONS,
    Destination,
)
from personalization.destinations.selectors import eligible_datastreams
from personalization.destinations.services import destination_connect
from personalization.destinations.wizards.base import DestinationWizardView

__all__ = ["DestinationConnectWizard", "kind_or_404", "offers_alerts"]


def kind_or_404(value: str) -> str:
    if value not in Destination.Kind.values:
        raise Http404("No such destination in the catalog.")
    return value


def offers_alerts(wizard) -> bool:
    """Show the Alerts step to users who can see alerts (View Alerts) in the sandbox."""
    return CAN_SUBSCRIBE_TO_ALERTS.allows(wizard.request.user, wizard.sandbox)


class DestinationConnectWizard(DestinationWizardView):
    """Connect a Custom Personalization destination of the kind named in the URL, in the current sandbox."""

    wizard_name = "connect"
    rule = CAN_CONNECT_DESTINATIONS
    title = _("Configure new destination")
    form_list = [
        ("connection", DestinationConnectionForm),
        ("alerts", AlertSubscriptionForm),
        ("marketing", MarketingActionsForm),
    ]
    condition_dict = {"alerts": offers_alerts}
    step_titles = {
        "connection": _("Connection parameters"),
        "alerts": _("Alerts"),
        "marketing": _("Marketing actions"),
    }

    def check_access(self, request, *args, **kwargs) -> None:
        self.kind = kind_or_404(kwargs["kind"])
        self.sandbox = request.sandbox
        if not self.rule.allows(request.user, self.sandbox):
            raise PermissionDenied

    def get_form_kwargs(self, step=None):
        if step == "connection":
            return {"user": self.request.user, "sandbox": self.sandbox, "kind": self.kind}
        if step == "marketing":
            return {"user": self.request.user, "sandbox": self.sandbox}
        return {}

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        existing = Destination.objects.filter(sandbox=self.sandbox).count()
        context.update(
            kind=self.kind,
            kind_label=Destination.Kind(self.kind).label,
            sandbox=self.sandbox,
            existing_destinations=existing,
            over_soft_limit=existing >= WARN_PERSONALIZATION_DESTINATIONS,
            soft_limit=WARN_PERSONALIZATION_DESTINATIONS,
            at_hard_limit=existing >= MAX_DESTINATIONS_PER_SANDBOX,
            hard_limit=MAX_DESTINATIONS_PER_SANDBOX,
            may_activate=CAN_ACTIVATE.allows(self.request.user, self.sandbox),
            cancel_url=reverse("destinations:destination_catalog"),
        )
        if self.steps.current == "connection":
            context["no_eligible_datastream"] = not eligible_datastreams(
                user=self.request.user, sandbox=self.sandbox
            ).exists()
        return context

    def done(self, form_list, form_dict=None, **kwargs):
        alerts = form_dict.get("alerts")
        try:
            destination = destination_connect(
                user=self.request.user,
                sandbox=self.sandbox,
                kind=self.kind,
                marketing_actions=form_dict["marketing"].cleaned_data["marketing_actions"],
                alert_types=alerts.cleaned_data["alert_types"] if alerts is not None else (),
                **form_dict["connection"].cleaned_data,
            )
        except ValidationError as error:
            return self.render_done_refusal("connection", error)
        messages.success(self.request, _("%(name)s is connected.") % {"name": destination.name})
        if self.request.POST.get("wizard_finish") == "activate" and CAN_ACTIVATE.allows(
            self.request.user, self.sandbox
        ):
            return redirect("destinations:destination_activate", pk=destination.pk)
        return redirect(destination.get_absolute_url())
