import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import CAN_MANAGE_SEGMENTS
from personalization.audiences import signals
from personalization.audiences.evaluation import (
    audience_evaluation_claim,
    is_batch_evaluable,
    profile_streaming_evaluate,
)
from personalization.audiences.models import Audience, AudienceEvaluation
from personalization.audiences.rules import audience_references
from personalization.audiences.tasks import evaluate_audience as evaluate_audience_task
from personalization.profiles.models import ProfileField
from personalization.profiles.services import profile_upsert
from personalization.services import delete_checked, save_checked

__all__ = [
    "ProfileIngest",
    "audience_create",
    "audience_delete",
    "audience_evaluation_claim",
    "audience_evaluation_enqueue",
    "audience_evaluations_schedule",
    "audience_publish",
    "audience_update",
    "profile_ingest",
]


def _refuse_if_activated(audience: Audience, action: str) -> None:
    names = sorted(audience.activations.values_list("destination__name", flat=True))
    if names:
        raise ValidationError(
            _("%(name)s is activated to %(destinations)s; remove it from those destinations before you %(action)s it.")
            % {"name": audience.name, "destinations": ", ".join(names), "action": action},
            code="audience_activated",
        )


def _evaluate_if_published(audience: Audience, was_published: bool, rule_changed: bool = False) -> None:
    """Queue an evaluation when an audience becomes published, or when a published audience's rule changes."""
    if (not was_published or rule_changed) and is_batch_evaluable(audience):
        trigger = AudienceEvaluation.Trigger.MANUAL if was_published else AudienceEvaluation.Trigger.PUBLISH
        audience_evaluation_enqueue(audience=audience, trigger=trigger)


def _refuse_if_included(audience: Audience) -> None:
    """Refuse to delete an audience that other audiences' rules include (`in_audience`)."""
    rules = Audience.objects.filter(sandbox_id=audience.sandbox_id, rule__isnull=False).exclude(pk=audience.pk)
    names = sorted(
        name for name, rule in rules.values_list("name", "rule") if str(audience.pk) in audience_references(rule)
    )
    if names:
        raise ValidationError(
            _("%(name)s is included by the rules of %(audiences)s; remove it from those rules before you delete it.")
            % {"name": audience.name, "audiences": ", ".join(names)},
            code="audience_included",
        )


def audience_create(*, user, sandbox, **fields) -> Audience:
    """Create an audience; a published segmentation audience gets its first evaluation queued."""
    with transaction.atomic():
        audience = save_checked(
            instance=Audience(sandbox=sandbox, created_by=user, **fields), user=user, rule=CAN_MANAGE_SEGMENTS
        )
        _evaluate_if_published(audience, was_published=False)
    return audience


def audience_update(*, user, audience: Audience, **fields) -> Audience:
    """Update an audience; publishing a segmentation audience, or changing a published one's rule, evaluates it."""
    if fields.get("status") == Audience.Status.INACTIVE and audience.status != Audience.Status.INACTIVE:
        _refuse_if_activated(audience, _("inactivate"))
    was_published = audience.status == Audience.Status.PUBLISHED
    rule_changed = "rule" in fields and fields["rule"] != audience.rule
    with transaction.atomic():
        audience = save_checked(instance=audience, user=user, rule=CAN_MANAGE_SEGMENTS, update=fields)
        if rule_changed:
            signals.rule_changed.send(sender=Audience, audience=audience)
        _evaluate_if_published(audience, was_published=was_published, rule_changed=rule_changed)
    return audience


def audience_delete(*, user, audience: Audience) -> None:
    _refuse_if_activated(audience, _("delete"))
    _refuse_if_included(audience)
    delete_checked(instance=audience, user=user, rule=CAN_MANAGE_SEGMENTS)


def audience_publish(*, user, audience: Audience) -> Audience:
    """Publish a draft (or inactive) audience; a segmentation audience needs a rule and gets evaluated."""
    if audience.status == Audience.Status.PUBLISHED:
        return audience
    if audience.origin == Audience.Origin.SEGMENTATION and audience.rule is None:
        raise ValidationError(
            {"rule": _("Write the audience's rule before you publish it; a segmentation audience needs one.")},
            code="rule_required",
        )
    return audience_update(user=user, audience=audience, status=Audience.Status.PUBLISHED)


@transaction.atomic
def audience_evaluation_enqueue(*, audience: Audience, trigger: str, user=None) -> AudienceEvaluation | None:
    """
    Queue a batch evaluation of `audience` and start it on a Celery worker once this transaction commits.

    With `user`, checks Manage Segments on the audience's sandbox (a request); without, the caller is the system.
    """
    if user is not None:
        CAN_MANAGE_SEGMENTS.require(user, audience.sandbox_id)
    evaluation = audience_evaluation_claim(audience_id=audience.pk, trigger=trigger)
    if evaluation is not None and evaluation.status == AudienceEvaluation.Status.QUEUED:
        evaluation_id = evaluation.pk
        transaction.on_commit(lambda: evaluate_audience_task.delay(evaluation_id))
    return evaluation


def audience_evaluations_schedule() -> int:
    """
    Queue the periodic batch evaluation of every published rule-based audience and return how many were queued.

    Streaming and edge audiences without event conditions are included: rules such as `within_last_days` or
    `in_audience` change with time and with other audiences, not only with profile updates. Evaluations that
    stopped making progress (a worker died) are queued again first; they resume from their cursor.
    """
    stale_after = datetime.timedelta(seconds=settings.AUDIENCE_EVALUATION_STALE_AFTER)
    stale = list(
        AudienceEvaluation.objects.filter(
            status=AudienceEvaluation.Status.RUNNING, updated_at__lt=timezone.now() - stale_after
        ).values_list("pk", flat=True)
    )
    for evaluation_id in stale:
        with transaction.atomic():
            requeued = AudienceEvaluation.objects.filter(
                pk=evaluation_id, status=AudienceEvaluation.Status.RUNNING
            ).update(status=AudienceEvaluation.Status.QUEUED)
            if requeued:
                transaction.on_commit(lambda evaluation_id=evaluation_id: evaluate_audience_task.delay(evaluation_id))
    queued = 0
    published = Audience.objects.filter(
        origin=Audience.Origin.SEGMENTATION, status=Audience.Status.PUBLISHED, rule__isnull=False
    ).order_by("pk")
    for audience in published.iterator():
        if is_batch_evaluable(audience):
            audience_evaluation_enqueue(audience=audience, trigger=AudienceEvaluation.Trigger.SCHEDULE)
            queued += 1
    return queued


@dataclass
class ProfileIngest:
    """The outcome of one profile write through the ingestion API."""

    profile: object
    created: bool
    transitions: list


def profile_ingest(
    *, user, sandbox, namespace: str, value: str, attributes=None, identities=(), merge: bool = False
) -> ProfileIngest:
    """
    Upsert a profile by identity (`profiles.services.profile_upsert`) and, in the same transaction, re-evaluate
    the sandbox's streaming and edge audiences for it, recording the membership transitions.

    The edge store forgets the profile's answers when the transaction commits, so the next lookup reflects it.
    """
    schema = dict(ProfileField.objects.filter(sandbox=sandbox).values_list("path", "field_type"))
    with transaction.atomic():
        upsert = profile_upsert(
            user=user,
            sandbox=sandbox,
            namespace=namespace,
            value=value,
            attributes=attributes,
            identities=identities,
            merge=merge,
            schema=schema,
        )
        field_types = {path: kind for path, kind in schema.items() if kind in ProfileField.SCALAR_TYPES}
        # Saving the profile already told the edge store about it; the memberships need no second notice.
        transitions = profile_streaming_evaluate(profile=upsert.profile, field_types=field_types, announce=False)
    return ProfileIngest(profile=upsert.profile, created=upsert.created, transitions=transitions)
