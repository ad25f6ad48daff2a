"""
Evaluation of one profile: streaming (after a profile write) and edge (on a lookup, with the request's event).

Memberships that came from an event (rules with event conditions) are only ever realized by the edge: without an
event nothing can undo them. Writes announce the profile to the edge store (`personalization.changes`).
"""

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import BooleanField, Case, ExpressionWrapper, F, FilteredRelation, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from personalization import changes
from personalization.audiences.models import Audience, AudienceMembership, StreamedChange
from personalization.audiences.rules import audience_references, field_types_for, rule_matches, uses_events
from personalization.profiles.models import Profile

__all__ = ["Transition", "edge_qualify", "profile_memberships_evaluate", "profile_streaming_evaluate"]

ACTIVE = AudienceMembership.ACTIVE_STATUSES
Status = AudienceMembership.Status


@dataclass(frozen=True)
class Transition:
    """A membership change of one profile: `before` is None for a first membership."""

    audience_id: str
    audience_name: str
    before: str | None
    after: str

    def as_dict(self) -> dict:
        return {"audience": self.audience_id, "name": self.audience_name, "from": self.before, "to": self.after}


def _dependency_order(audiences: list[Audience]) -> list[Audience]:
    """Order audiences so that those included by others (`in_audience`) are evaluated first."""
    by_id = {str(audience.pk): audience for audience in audiences}
    ordered, state = [], {}

    def visit(audience):
        key = str(audience.pk)
        if state.get(key):
            return
        state[key] = "visiting"
        for reference in sorted(audience_references(audience.rule)):
            if reference in by_id and not state.get(reference):
                visit(by_id[reference])
        ordered.append(audience)
        state[key] = "done"

    for audience in sorted(audiences, key=lambda a: a.name):
        visit(audience)
    return ordered


@dataclass
class _Plan:
    transitions: list
    created: list
    updated: list


def _plan(*, profile, audiences, event, exits, field_types, memberships, today) -> _Plan:
    """Decide the membership transitions of one profile without writing anything."""
    current = {str(membership.audience_id): membership for membership in memberships}
    active = {key for key, membership in current.items() if membership.status in ACTIVE}
    now = timezone.now()
    plan = _Plan(transitions=[], created=[], updated=[])
    for audience in _dependency_order(audiences):
        key = str(audience.pk)
        with_events = uses_events(audience.rule)
        if with_events and event is None:
            continue
        qualifies = rule_matches(
            audience.rule,
            attributes=profile.attributes,
            field_types=field_types,
            audiences=active,
            event=event,
            today=today,
        )
        membership = current.get(key)
        if qualifies and key not in active:
            before = membership.status if membership else None
            if membership is None:
                membership = AudienceMembership(audience=audience, profile=profile, qualified_at=now)
                plan.created.append(membership)
            else:
                plan.updated.append(membership)
            membership.status, membership.qualified_at, membership.exited_at = Status.REALIZED, now, None
            active.add(key)
            plan.transitions.append(Transition(key, audience.name, before, Status.REALIZED))
        elif not qualifies and key in active and exits and not with_events:
            before = membership.status
            membership.status, membership.exited_at = Status.EXITED, now
            plan.updated.append(membership)
            active.discard(key)
            plan.transitions.append(Transition(key, audience.name, before, Status.EXITED))
    return plan


def _apply(profile: Profile, plan: _Plan, *, announce: bool = True) -> None:
    """Write a plan's memberships, adjust the audiences' counts and announce the profile to the edge store."""
    if plan.created:
        AudienceMembership.objects.bulk_create(plan.created, ignore_conflicts=True)
    if plan.updated:
        AudienceMembership.objects.bulk_update(plan.updated, ["status", "qualified_at", "exited_at"])
    if plan.transitions:
        # One UPDATE for every audience whose count moves (a profile has one transition per audience at most).
        deltas = [
            When(pk=transition.audience_id, then=Value(1 if transition.after == Status.REALIZED else -1))
            for transition in plan.transitions
        ]
        Audience.objects.filter(pk__in=[transition.audience_id for transition in plan.transitions]).update(
            profile_count=Greatest(F("profile_count") + Case(*deltas, default=Value(0)), 0)
        )
    if plan.transitions:
        StreamedChange.objects.create(
            sandbox_id=profile.sandbox_id,
            profile_id=profile.pk,
            audience_ids=[transition.audience_id for transition in plan.transitions],
        )
    if plan.transitions and announce:
        changes.announce_profiles_changed(profile.sandbox_id, [profile.pk])


def profile_memberships_evaluate(
    *,
    profile: Profile,
    audiences: list[Audience],
    event: dict | None = None,
    exits: bool = True,
    field_types: dict | None = None,
    memberships: list[AudienceMembership] | None = None,
    today: datetime.date | None = None,
    announce: bool = True,
) -> list[Transition]:
    """
    Evaluate `audiences` for one profile (and the request event's `xdm`, at the edge) and store the transitions.

    Rules with event conditions are skipped without an event, and never exit a member (an event happened). With
    `exits=False` only new memberships are written (same-page personalization).
    """
    if field_types is None:
        field_types = field_types_for(profile.sandbox_id)
    if memberships is None:
        memberships = list(AudienceMembership.objects.filter(profile=profile))
    plan = _plan(
        profile=profile,
        audiences=audiences,
        event=event,
        exits=exits,
        field_types=field_types,
        memberships=memberships,
        today=today,
    )
    if plan.transitions:
        with transaction.atomic(savepoint=False):
            _apply(profile, plan, announce=announce)
    return plan.transitions


def profile_streaming_evaluate(
    *, profile: Profile, field_types: dict | None = None, announce: bool = True
) -> list[Transition]:
    """
    Re-evaluate the sandbox's published streaming and edge audiences for `profile` (after an update).

    `announce=False` when the caller saved the profile in the same transaction (its save tells the edge store).
    One read: the audiences and the profile's memberships come together.
    """
    streaming = Q(
        origin=Audience.Origin.SEGMENTATION,
        status=Audience.Status.PUBLISHED,
        evaluation__in=[Audience.Evaluation.STREAMING, Audience.Evaluation.EDGE],
        rule__isnull=False,
    )
    rows = (
        Audience.objects.filter(sandbox_id=profile.sandbox_id)
        .alias(membership=FilteredRelation("memberships", condition=Q(memberships__profile_id=profile.pk)))
        .filter(streaming | Q(membership__isnull=False))
        .order_by()
        .values_list(
            "pk",
            "name",
            "rule",
            ExpressionWrapper(streaming, output_field=BooleanField()),
            "membership__pk",
            "membership__status",
            "membership__qualified_at",
            "membership__exited_at",
        )
    )
    audiences, memberships = [], []
    for pk, name, rule, is_streaming, membership_pk, status, qualified_at, exited_at in rows:
        if is_streaming:
            audiences.append(Audience(pk=pk, sandbox_id=profile.sandbox_id, name=name, rule=rule))
        if membership_pk is not None:
            memberships.append(
                AudienceMembership(
                    pk=membership_pk,
                    audience_id=pk,
                    profile_id=profile.pk,
                    status=status,
                    qualified_at=qualified_at,
                    exited_at=exited_at,
                )
            )
    if not audiences:
        return []
    return profile_memberships_evaluate(
        profile=profile, audiences=audiences, field_types=field_types, memberships=memberships, announce=announce
    )


def edge_qualify(*, sandbox_id, profile_id, audience_ids, event: dict | None) -> dict | None:
    """
    Evaluate the published edge audiences among `audience_ids` for one profile and the request event's `xdm`,
    storing new memberships (`realized`) before the lookup answers (same-page personalization).

    Return the profile as `projection.load_identity` does (`profile`, `attributes`, active `audiences`) when a
    membership was added, else None. Costs four reads (audiences, profile, memberships, schema), plus the writes
    when someone qualifies. Exits are left to streaming and batch evaluation: a lookup only adds.
    """
    audiences = list(
        Audience.objects.filter(
            sandbox_id=sandbox_id,
            pk__in=audience_ids,
            origin=Audience.Origin.SEGMENTATION,
            status=Audience.Status.PUBLISHED,
            evaluation=Audience.Evaluation.EDGE,
            rule__isnull=False,
        ).only("pk", "name", "rule", "sandbox_id")
    )
    if not audiences:
        return None
    profile = (
        Profile.objects.filter(pk=profile_id, sandbox_id=sandbox_id).only("pk", "sandbox_id", "attributes").first()
    )
    if profile is None:
        return None
    memberships = list(AudienceMembership.objects.filter(profile=profile))
    transitions = profile_memberships_evaluate(
        profile=profile,
        audiences=audiences,
        event=event if isinstance(event, dict) else {},
        exits=False,
        memberships=memberships,
    )
    if not transitions:
        return None
    return {
        "profile": str(profile.pk),
        "attributes": profile.attributes or {},
        "audiences": sorted(
            {str(m.audience_id) for m in memberships if m.status in ACTIVE}
            | {t.audience_id for t in transitions if t.before is None}
        ),
    }
