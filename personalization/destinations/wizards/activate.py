"""
The activation wizard: Select destination → Select audiences → Mapping → Audience schedule → Review → Finish.

Entered from the catalog, it starts by choosing a connection of that card; entered from a destination, it starts
at the audiences with the destination's current activations, mappings and schedule filled in. The Mapping step
exists only on the With Attributes card and only for users with Activate Destinations.
"""

import datetime
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.permissions import CAN_ACTIVATE, CAN_MAP_ATTRIBUTES, CAN_VIEW_DESTINATIONS, restrict
from personalization.destinations.forms import (
    ActivationReviewForm,
    AttributeMappingFormSet,
    AudienceScheduleForm,
    AudienceSelectionForm,
    SelectDestinationForm,
)
from personalization.destinations.models import MAX_ATTRIBUTE_MAPPINGS, WARN_AUDIENCES_PER_DESTINATION, Destination
from personalization.destinations.selectors import destinations_to_activate
from personalization.destinations.services import activation_policy_check, destination_activation_apply
from personalization.destinations.wizards.base import DestinationWizardView
from personalization.destinations.wizards.connect import kind_or_404
from personalization.governance.selectors import PolicyCheck

__all__ = ["ActivationPlan", "DestinationActivationWizard", "entered_from_catalog", "offers_mapping"]


def entered_from_catalog(wizard) -> bool:
    """Ask for the destination only when the wizard was not opened from one."""
    return wizard.fixed_destination is None


def offers_mapping(wizard) -> bool:
    """Map attributes only on the With Attributes card, and only with Activate Destinations (not "without mapping")."""
    return wizard.kind == Destination.Kind.WITH_ATTRIBUTES and CAN_MAP_ATTRIBUTES.allows(
        wizard.request.user, wizard.sandbox
    )


@dataclass
class ActivationPlan:
    """What Finish will write, compared with what the destination has now; the Review step shows it."""

    destination: Destination
    audiences: list
    schedule: dict
    # None: the mappings stay as they are (the user may not change them, or the card has none).
    mappings: list | None
    current_activations: dict = field(default_factory=dict)
    current_mappings: list = field(default_factory=list)
    policy_check: PolicyCheck | None = None

    @classmethod
    def build(cls, *, destination, audiences, schedule, mappings) -> "ActivationPlan":
        current_activations = {a.audience_id: a for a in destination.activations.select_related("audience")}
        current_mappings = list(destination.mappings.select_related("source").order_by("target"))
        mapped_fields = (
            [source for source, _target in mappings] if mappings is not None else [m.source for m in current_mappings]
        )
        check = activation_policy_check(destination=destination, audiences=audiences, mapped_fields=mapped_fields)
        return cls(destination, list(audiences), schedule, mappings, current_activations, current_mappings, check)

    def audience_rows(self) -> list[dict]:
        rows = []
        for audience in self.audiences:
            start, end = self.schedule.get(audience.pk, (None, None))
            current = self.current_activations.get(audience.pk)
            if current is None:
                change = "new"
            elif (current.start_date, current.end_date) != (start, end):
                change = "rescheduled"
            else:
                change = "unchanged"
            rows.append({"audience": audience, "start": start, "end": end, "change": change})
        return rows

    def removed_audiences(self) -> list:
        selected = {audience.pk for audience in self.audiences}
        return [a.audience for pk, a in self.current_activations.items() if pk not in selected]

    def mapping_rows(self) -> list[dict]:
        if self.mappings is None:
            return [{"source": m.source, "target": m.target, "change": "unchanged"} for m in self.current_mappings]
        by_target = {m.target: m for m in self.current_mappings}
        rows = []
        for source, target in self.mappings:
            current = by_target.get(target)
            change = "new" if current is None else "changed" if current.source_id != source.pk else "unchanged"
            rows.append({"source": source, "target": target, "change": change})
        return rows

    def removed_mappings(self) -> list:
        if self.mappings is None:
            return []
        kept = {target for _source, target in self.mappings}
        return [m for m in self.current_mappings if m.target not in kept]

    @property
    def exceeds_audience_guardrail(self) -> bool:
        return len(self.audiences) > WARN_AUDIENCES_PER_DESTINATION


class DestinationActivationWizard(DestinationWizardView):
    """Activate audiences to a destination (the URL names it) or to one picked from a catalog card's connections."""

    wizard_name = "activate"
    rule = CAN_ACTIVATE
    title = _("Activate audiences")
    form_list = [
        ("destination", SelectDestinationForm),
        ("audiences", AudienceSelectionForm),
        ("mapping", AttributeMappingFormSet),
        ("schedule", AudienceScheduleForm),
        ("review", ActivationReviewForm),
    ]
    condition_dict = {"destination": entered_from_catalog, "mapping": offers_mapping}
    step_titles = {
        "destination": _("Select destination"),
        "audiences": _("Select audiences"),
        "mapping": _("Mapping"),
        "schedule": _("Audience schedule"),
        "review": _("Review"),
    }

    def check_access(self, request, *args, **kwargs) -> None:
        if "pk" in kwargs:
            queryset = Destination.objects.select_related("sandbox", "datastream")
            visible = restrict(queryset, request.user, CAN_VIEW_DESTINATIONS)
            self.fixed_destination = get_object_or_404(visible, pk=kwargs["pk"])
            self.sandbox = self.fixed_destination.sandbox
            self.kind = self.fixed_destination.kind
        else:
            self.fixed_destination = None
            self.kind = kind_or_404(kwargs["kind"])
            self.sandbox = request.sandbox
        if not self.rule.allows(request.user, self.sandbox):
            raise PermissionDenied

    # What earlier steps decided

    def _valid_step_form(self, step):
        """Return the stored form of `step` when it is valid, else None (cached until the storage changes)."""
        cache = self.__dict__.setdefault("_cleaned_data_cache_forms", {})
        if step not in cache:
            form = self.get_form(step=step, data=self.storage.get_step_data(step))
            cache[step] = form if form.is_valid() else None
        return cache[step]

    def chosen_destination(self) -> Destination | None:
        if self.fixed_destination is not None:
            return self.fixed_destination
        data = self.get_cleaned_data_for_step("destination")
        return data["destination"] if data else None

    def selected_audiences(self) -> list:
        data = self.get_cleaned_data_for_step("audiences")
        return list(data["audiences"]) if data else []

    def plan(self) -> ActivationPlan | None:
        destination = self.chosen_destination()
        audiences_form = self._valid_step_form("audiences")
        schedule_form = self._valid_step_form("schedule")
        if destination is None or audiences_form is None or schedule_form is None:
            return None
        mappings = None
        if "mapping" in self.get_form_list():
            mapping_form = self._valid_step_form("mapping")
            if mapping_form is None:
                return None
            mappings = mapping_form.mappings
        return ActivationPlan.build(
            destination=destination,
            audiences=audiences_form.cleaned_data["audiences"],
            schedule=schedule_form.schedule,
            mappings=mappings,
        )

    # Steps

    def get_form_kwargs(self, step=None):
        user, sandbox = self.request.user, self.sandbox
        if step == "destination":
            return {"user": user, "sandbox": sandbox, "kind": self.kind}
        if step == "audiences":
            return {"user": user, "sandbox": sandbox, "destination": self.chosen_destination()}
        if step == "mapping":
            return {"user": user, "sandbox": sandbox}
        if step == "schedule":
            destination = self.chosen_destination()
            activated = destination.activations.values_list("audience_id", flat=True) if destination else []
            return {"audiences": self.selected_audiences(), "activated_ids": activated}
        return {"plan": self.plan()}

    def get_form_initial(self, step):
        if step == "destination":
            choices = destinations_to_activate(user=self.request.user, sandbox=self.sandbox, kind=self.kind)
            only = list(choices.values_list("pk", flat=True)[:2])
            return {"destination": only[0]} if len(only) == 1 else {}
        destination = self.chosen_destination()
        if destination is None:
            return [] if step == "mapping" else {}
        if step == "audiences":
            return {"audiences": list(destination.activations.values_list("audience_id", flat=True))}
        if step == "mapping":
            return [{"source": m.source_id, "target": m.target} for m in destination.mappings.order_by("target")]
        if step == "schedule":
            return self._schedule_initial(destination)
        return {}

    def _schedule_initial(self, destination) -> dict:
        current = {a.audience_id: a for a in destination.activations.all()}
        today = timezone.localdate()
        initial = {}
        selected = self.selected_audiences()
        for audience in selected:
            activation = current.get(audience.pk)
            start: datetime.date | None = today if activation is None else activation.start_date
            initial["start_%s" % audience.pk.hex] = start
            initial["end_%s" % audience.pk.hex] = activation.end_date if activation else None
        # New audiences first, as the product does; with none new, show everything.
        initial["show_new_only"] = any(audience.pk not in current for audience in selected)
        return initial

    def process_step(self, form):
        data = super().process_step(form)
        if self.steps.current == "destination":
            before = self.storage.get_step_data("destination")
            key = form.add_prefix("destination")
            if before is not None and before.getlist(key) != data.get(key):
                # Another destination: answers given for the previous one no longer apply.
                self.storage.data[self.storage.step_data_key] = {}
        return data

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        destination = self.chosen_destination()
        context.update(
            destination=destination,
            kind=self.kind,
            kind_label=Destination.Kind(self.kind).label,
            sandbox=self.sandbox,
            may_map=CAN_MAP_ATTRIBUTES.allows(self.request.user, self.sandbox),
            max_mappings=MAX_ATTRIBUTE_MAPPINGS,
            audience_guardrail=WARN_AUDIENCES_PER_DESTINATION,
            cancel_url=destination.get_absolute_url() if destination else reverse("destinations:destination_catalog"),
            connect_url=reverse("destinations:destination_connect", args=[self.kind]),
        )
        return context

    def done(self, form_list, form_dict=None, **kwargs):
        plan = form_dict["review"].plan
        try:
            changes = destination_activation_apply(
                user=self.request.user,
                destination=plan.destination,
                audiences=plan.audiences,
                schedule=plan.schedule,
                mappings=plan.mappings,
            )
        except ValidationError as error:
            return self.render_done_refusal("review", error)
        count = changes.total_audiences
        messages.success(
            self.request,
            ngettext("%(name)s now activates %(count)d audience.", "%(name)s now activates %(count)d audiences.", count)
            % {"name": plan.destination.name, "count": count},
        )
        if plan.exceeds_audience_guardrail:
            messages.warning(
                self.request,
                _(
                    "More than %(limit)d audiences are activated to %(name)s; past this performance guardrail "
                    "lookups may slow down. Consider splitting them across destinations."
                )
                % {"limit": WARN_AUDIENCES_PER_DESTINATION, "name": plan.destination.name},
            )
        return redirect(plan.destination.get_absolute_url())
