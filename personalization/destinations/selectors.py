"""Reads for the destinations workspace and wizards: what a user may pick, see and do in a sandbox."""

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.permissions import CAN_VIEW_DESTINATIONS, CAN_VIEW_PROFILES, CAN_VIEW_SEGMENTS, Rule
from personalization.audiences.models import Audience
from personalization.datastreams.models import Datastream
from personalization.destinations.models import Destination
from personalization.governance.models import MarketingAction
from personalization.profiles.models import ProfileField

__all__ = [
    "activatable_audiences",
    "destination_kind_counts",
    "destinations_to_activate",
    "eligible_datastreams",
    "mappable_fields",
    "marketing_action_catalogue",
]


def _in_sandbox(queryset: QuerySet, user, rule: Rule, sandbox) -> QuerySet:
    return queryset.restrict(user, rule).in_sandbox(sandbox)


# Choices offered in forms.


def eligible_datastreams(*, user, sandbox) -> QuerySet[Datastream]:
    """Return the datastreams of `sandbox` a destination may answer on: platform service and Personalization on."""
    queryset = Datastream.objects.filter(platform_enabled=True, personalization_destinations=True)
    return _in_sandbox(queryset, user, CAN_VIEW_DESTINATIONS, sandbox).order_by("name")


def marketing_action_catalogue(*, user, sandbox) -> QuerySet[MarketingAction]:
    return _in_sandbox(MarketingAction.objects.all(), user, CAN_VIEW_DESTINATIONS, sandbox).order_by("name")


def activatable_audiences(*, user, sandbox, destination: Destination | None = None) -> QuerySet[Audience]:
    """
    Return the published, unexpired audiences of `sandbox` the user may see, plus those `destination` already
    activates (whatever their state now), so an edit can keep or drop them.
    """
    eligible = Q(status=Audience.Status.PUBLISHED) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    if destination is not None:
        eligible |= Q(activations__destination=destination)
    queryset = _in_sandbox(Audience.objects.all(), user, CAN_VIEW_SEGMENTS, sandbox)
    return queryset.filter(pk__in=Audience.objects.filter(eligible).values("pk")).order_by("name")


def mappable_fields(*, user, sandbox) -> QuerySet[ProfileField]:
    """Return the scalar profile fields of `sandbox`: arrays and maps cannot be sent as attributes."""
    queryset = ProfileField.objects.filter(field_type__in=ProfileField.SCALAR_TYPES)
    return _in_sandbox(queryset, user, CAN_VIEW_PROFILES, sandbox).order_by("path")


def destinations_to_activate(*, user, sandbox, kind: str) -> QuerySet[Destination]:
    """Return the connections of one catalog card in `sandbox`, with their activated audience counts."""
    queryset = Destination.objects.filter(kind=kind).select_related("datastream")
    return (
        _in_sandbox(queryset, user, CAN_VIEW_DESTINATIONS, sandbox)
        .annotate(activation_count=Count("activations"))
        .order_by("name")
    )


def destination_kind_counts(*, sandbox) -> dict[str, int]:
    """Return `{kind: connections}` in `sandbox`, every kind present (the catalog's Set up / Activate switch)."""
    counts = dict.fromkeys(Destination.Kind.values, 0)
    rows = Destination.objects.filter(sandbox=sandbox).values_list("kind").annotate(total=Count("pk"))
    counts.update(dict(rows))
    return counts
