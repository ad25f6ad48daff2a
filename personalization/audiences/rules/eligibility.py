"""Edge eligibility: which rules the edge can evaluate on a lookup, and why (or why not)."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from personalization.audiences.models import Audience
from personalization.audiences.rules.grammar import audience_references, field_paths, uses_events

__all__ = ["Eligibility", "edge_eligibility", "is_profile_only"]


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: str


def is_profile_only(rule) -> bool:
    """Return whether a rule looks at profile attributes only (no event, no other audience)."""
    return isinstance(rule, dict) and not uses_events(rule) and not audience_references(rule)


def edge_eligibility(rule, *, sandbox_id) -> Eligibility:
    """
    Say whether the edge can evaluate `rule` on a lookup, with the reason.

    Eligible: profile-only rules, segments of segments, and conditions on the request's single event, alone
    or with profile attributes. Not eligible: event conditions together with `in_audience` of an audience
    that is not profile-only (the edge would need that audience's own, possibly batch, evaluation).
    """
    events = uses_events(rule)
    references = audience_references(rule)
    if not events:
        if references:
            return Eligibility(True, _("Segment of segments: the edge reads the memberships it includes."))
        return Eligibility(True, _("Profile-only rule: the edge evaluates it against the profile."))
    if references:
        blocking = sorted(
            audience.name
            for audience in Audience.objects.filter(sandbox_id=sandbox_id, pk__in=references).only(
                "name", "origin", "rule"
            )
            if audience.origin != Audience.Origin.SEGMENTATION or not is_profile_only(audience.rule)
        )
        if blocking:
            return Eligibility(
                False,
                _(
                    "It combines a condition on the request's event with in_audience %(names)s, which is not a "
                    "profile-only audience; on the edge an event can only be combined with profile attributes "
                    "or profile-only audiences."
                )
                % {"names": ", ".join('"%s"' % name for name in blocking)},
            )
        return Eligibility(True, _("Single event combined with profile-only audiences."))
    if field_paths(rule):
        return Eligibility(True, _("Single event combined with profile attributes."))
    return Eligibility(True, _("Single event: the edge evaluates it against the request's event."))
