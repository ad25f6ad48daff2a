"""
The lookup preview: the exact answers a datastream gives for one identity, and why each activated
audience is or is not in them. Read-only; it never touches the edge store.
"""

import json
import time
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from personalization.audiences.models import Audience, AudienceMembership
from personalization.destinations.models import AudienceActivation
from personalization.edge import projection

__all__ = ["ActivationVerdict", "LookupPreview", "preview_lookup"]

_REASONS = {
    "served": _("In the answer"),
    "not_member": _("Not a member"),
    "exited": _("Exited the audience"),
    "before_schedule": _("Before the activation's start date"),
    "after_schedule": _("After the activation's end date"),
    "audience_expired": _("Audience expired"),
    "audience_inactive": _("Audience is not published"),
    "destination_disabled": _("Destination disabled"),
    "datastream_not_serving": _("Datastream does not serve personalization destinations"),
}


@dataclass
class ActivationVerdict:
    destination: object
    audience: Audience
    # What the page shows for the audience: its name, or its id when the viewer may not see audiences.
    audience_label: str
    activation: AudienceActivation
    membership: AudienceMembership | None
    reason: str

    @property
    def served(self) -> bool:
        return self.reason == "served"

    @property
    def explanation(self) -> str:
        return str(_REASONS[self.reason])


@dataclass
class LookupPreview:
    found: bool
    profile_id: str | None
    unauthenticated: str
    authenticated: str
    verdicts: list[ActivationVerdict]
    datastream_enabled: bool


def _pretty(payload_json: str) -> str:
    body = {
        "requestId": "…",
        "handle": [{"type": "activation:pull", "eventIndex": 0, "payload": json.loads(payload_json)}],
    }
    return json.dumps(body, indent=2, ensure_ascii=False)


def _reason(destination, membership, state, serving) -> str:
    if not serving:
        return "datastream_not_serving"
    if not destination.enabled:
        return "destination_disabled"
    if state is not None:
        return state
    if membership is None:
        return "not_member"
    if membership.status == AudienceMembership.Status.EXITED:
        return "exited"
    return "served"


def preview_lookup(datastream, namespace: str, value: str, *, show_audience_names: bool = True) -> LookupPreview:
    """
    Return the answers for `namespace:value` on `datastream`, computed the way the lookup computes them.

    `show_audience_names=False` (the viewer lacks View Segments) leaves the verdicts' audiences unnamed.
    """
    config = projection.load_config(datastream.pk)
    found = projection.load_identity(datastream.sandbox_id, namespace, value)
    now = time.time()
    answer = projection.build_projection(config, found, now)
    memberships = {}
    if found is not None:
        memberships = {
            membership.audience_id: membership
            for membership in AudienceMembership.objects.filter(profile_id=found["profile"])
        }
    serving = datastream.accepts_personalization_destinations
    verdicts = []
    activations = AudienceActivation.objects.filter(destination__datastream=datastream).select_related(
        "destination", "audience"
    )
    for activation in activations.order_by("destination__created_at", "audience__name"):
        audience = activation.audience
        window = projection.activation_window(
            audience=audience.pk,
            start=activation.start_date,
            end=activation.end_date,
            status=audience.status,
            expires=audience.expires_at,
        )
        state = projection.segment_state(window, now)
        membership = memberships.get(audience.pk)
        verdicts.append(
            ActivationVerdict(
                destination=activation.destination,
                audience=audience,
                audience_label=audience.name if show_audience_names else str(audience.pk),
                activation=activation,
                membership=membership,
                reason=_reason(activation.destination, membership, state, serving),
            )
        )
    return LookupPreview(
        found=found is not None,
        profile_id=found["profile"] if found else None,
        unauthenticated=_pretty(projection.render_payload(answer.anon)),
        authenticated=_pretty(projection.render_payload(answer.full)),
        verdicts=verdicts,
        datastream_enabled=datastream.enabled,
    )
