"""
Dataflow runs: what each destination received, activated and skipped, counted on the write side.

- A batch evaluation or a CSV import is one run for each enabled destination that activates its audience,
  recorded when it finishes (`dataflow_runs_record`, from `changes.audience_work_finished`): the profiles it
  moved into or out of the audience are the run's received profiles.
- Streaming and same-page changes go into the destination's current window (`DATAFLOW_RUN_WINDOW_MINUTES`),
  counted from the `StreamedChange` rows those writes leave in their own transaction
  (`dataflow_runs_count_streamed`, every minute from beat); a window's run finishes when the window has ended
  and its changes are counted (`dataflow_runs_close_windows`).

A received profile is skipped, for one reason, when the activation has expired, a governance policy forbids
what the destination sends, the profile has no identity a lookup could find it by, or (With Attributes) a mapped
attribute is missing from it; the others are activated. Nothing here runs on the lookup path. Each finished run
is announced (`run_finished`) after its commit, for the alerts.
"""

import datetime
import functools
import operator

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.fields.json import KeyTransform
from django.dispatch import Signal
from django.utils import timezone

from personalization.audiences.models import (
    Audience,
    AudienceEvaluation,
    AudienceImport,
    AudienceMembership,
    StreamedChange,
)
from personalization.destinations.models import AudienceActivation, Destination
from personalization.destinations.services import activation_policy_check
from personalization.edge.models import DataflowRun
from personalization.profiles.models import Identity, Profile

__all__ = [
    "dataflow_runs_catch_up",
    "dataflow_runs_close_windows",
    "dataflow_runs_count_streamed",
    "dataflow_runs_record",
    "run_finished",
]

Kind, Reason, Status = DataflowRun.Kind, DataflowRun.SkipReason, DataflowRun.Status
# run_ids: the runs that just finished (sent after their commit).
run_finished = Signal()
_STREAMED_BATCH = 5000
# A batch run or import may have started this long before it finished (the catch-up looks back this far).
_LONGEST_WORK = datetime.timedelta(hours=6)


def _window(at: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """Return the streaming window holding `at`: whole multiples of the window length since midnight UTC."""
    length = datetime.timedelta(minutes=settings.DATAFLOW_RUN_WINDOW_MINUTES)
    midnight = at.astimezone(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight + ((at - midnight) // length) * length
    return start, start + length


def _announce(run_ids: list) -> None:
    if run_ids:
        transaction.on_commit(lambda: run_finished.send(sender=DataflowRun, run_ids=list(run_ids)))


def _expired(activations: list[AudienceActivation], at: datetime.datetime) -> bool:
    """Return whether every activation (of the audiences concerned) had ended or expired by `at`."""

    def ended(activation):
        audience = activation.audience
        return (activation.end_date is not None and activation.end_date < at.date()) or (
            audience.expires_at is not None and audience.expires_at <= at
        )

    return all(ended(activation) for activation in activations)


def _mapped_values(destination: Destination) -> dict:
    """Return `{alias: the JSON path of one mapped attribute}` for a With Attributes destination ({} otherwise)."""
    if destination.kind != Destination.Kind.WITH_ATTRIBUTES:
        return {}
    values = {}
    for index, path in enumerate(destination.mappings.values_list("source__path", flat=True)):
        transform = "attributes"
        for part in path.split("."):
            transform = KeyTransform(part, transform)
        values["mapped_%d" % index] = transform
    return values


def _skips(destination: Destination, activations: list, profiles, at: datetime.datetime) -> list:
    """
    Return `(reason, the profiles skipped for it)` for the profiles a destination received through these
    activations; each profile is skipped for the first reason that holds (the querysets do not overlap).
    """
    if _expired(activations, at):
        return [(Reason.AUDIENCE_EXPIRED, profiles)]
    check = activation_policy_check(
        destination=destination,
        audiences=[activation.audience for activation in activations],
        mapped_fields=[mapping.source for mapping in destination.mappings.select_related("source")],
    )
    if not check.passed:
        return [(Reason.POLICY_VIOLATION, profiles)]
    findable = Exists(Identity.objects.filter(profile=OuterRef("pk")))
    skips = [(Reason.NO_IDENTITY, profiles.filter(~findable))]
    mapped = _mapped_values(destination)
    if mapped:
        missing = functools.reduce(operator.or_, (Q(**{alias + "__isnull": True}) for alias in mapped))
        skips.append((Reason.MISSING_ATTRIBUTE, profiles.filter(findable).alias(**mapped).filter(missing)))
    return skips


def _tally(destination: Destination, activations: list, profiles, at: datetime.datetime) -> tuple[int, dict]:
    """Return how many of `profiles` the destination received and the skipped ones by reason (set-based)."""
    received = profiles.count()
    if not received:
        return 0, {}
    counts = {reason: skipped.count() for reason, skipped in _skips(destination, activations, profiles, at)}
    return received, {reason: count for reason, count in counts.items() if count}


def _counts(received: int, reasons: dict, failed: int = 0) -> dict:
    skipped = sum(reasons.values())
    return {
        "profiles_received": received,
        "profiles_skipped": skipped,
        "profiles_failed": failed,
        "profiles_activated": max(0, received - skipped - failed),
        "skip_reasons": {str(reason): count for reason, count in reasons.items()},
    }


@transaction.atomic
def dataflow_runs_record(
    *, audience_id, kind: str, source: str, started_at, finished_at, error="", moved_since=None
) -> list:
    """
    Record one finished batch evaluation or CSV import as a run of each enabled destination activating the
    audience: the profiles it received are those that entered or left the audience between `moved_since`
    (default: when the work started) and when it finished. Idempotent: the same work recorded twice (a retried
    task) finds the runs it made.
    """
    audience = Audience.objects.filter(pk=audience_id).first()
    if audience is None:
        return []
    activations = list(
        AudienceActivation.objects.filter(audience=audience, destination__enabled=True).select_related(
            "destination", "audience"
        )
    )
    window = (moved_since or started_at, finished_at)
    moved = AudienceMembership.objects.filter(audience=audience).filter(
        Q(status__in=AudienceMembership.ACTIVE_STATUSES, qualified_at__range=window)
        | Q(status=AudienceMembership.Status.EXITED, exited_at__range=window)
    )
    profiles = Profile.objects.filter(pk__in=moved.values("profile_id"))
    runs, finished = [], []
    for activation in activations:
        destination = activation.destination
        if DataflowRun.objects.filter(destination=destination, kind=kind, source=source).exists():
            continue
        if error:
            counts = _counts(0, {})
            status, errors = Status.FAILED, [error]
        else:
            counts = _counts(*_tally(destination, [activation], profiles, finished_at))
            status, errors = Status.SUCCESS, []
        run = DataflowRun.objects.create(
            destination=destination,
            kind=kind,
            source=source,
            audience=audience,
            started_at=started_at,
            finished_at=finished_at,
            status=status,
            errors=errors,
            **counts,
        )
        runs.append(run)
        finished.append(run.pk)
    _announce(finished)
    return runs


def dataflow_runs_count_streamed(*, batch: int = _STREAMED_BATCH) -> int:
    """
    Count waiting `StreamedChange` rows into the destinations' window runs and delete them, in one transaction
    per batch (a worker that dies mid-batch leaves the rows for the next); return how many were counted.
    """
    counted = 0
    while True:
        with transaction.atomic():
            waiting = StreamedChange.objects.order_by("at")
            if connection.features.has_select_for_update_skip_locked:
                waiting = waiting.select_for_update(skip_locked=True)
            rows = list(waiting[:batch])
            if not rows:
                return counted
            _count_into_windows(rows)
            StreamedChange.objects.filter(pk__in=[row.pk for row in rows]).delete()
        counted += len(rows)
        if len(rows) < batch:
            return counted


def _count_into_windows(rows: list) -> None:
    audience_ids = {audience_id for row in rows for audience_id in row.audience_ids}
    activations = {}
    for activation in AudienceActivation.objects.filter(
        audience_id__in=audience_ids, destination__enabled=True
    ).select_related("destination", "audience"):
        activations.setdefault(str(activation.audience_id), []).append(activation)
    # (destination, window start) -> [window end, the destination, its activations concerned, changes, last at]
    groups = {}
    for row in rows:
        start, end = _window(row.at)
        for destination_id, destination, concerned in _reached(row, activations):
            group = groups.setdefault((destination_id, start), [end, destination, {}, [], row.at])
            group[2].update(concerned)
            group[3].append(row.profile_id)
            group[4] = max(group[4], row.at)
    for (destination_id, start), (end, destination, concerned, changed, last) in groups.items():
        # Each change is a profile record the destination received; a profile changed twice counts twice.
        profiles = Profile.objects.filter(pk__in=set(changed))
        reason_of = {}
        for reason, skipped in _skips(destination, list(concerned.values()), profiles, last):
            for profile_id in skipped.values_list("pk", flat=True):
                reason_of.setdefault(profile_id, reason)
        reasons = {}
        for profile_id in changed:
            if profile_id in reason_of:
                reasons[reason_of[profile_id]] = reasons.get(reason_of[profile_id], 0) + 1
        _add_to_window(destination_id, start, end, len(changed), reasons)


def _reached(row, activations: dict):
    """Yield `(destination id, destination, {activation id: activation})` for each destination a change reached."""
    reached = {}
    for audience_id in row.audience_ids:
        for activation in activations.get(str(audience_id), ()):
            entry = reached.setdefault(activation.destination_id, (activation.destination, {}))
            entry[1][activation.pk] = activation
    for destination_id, (destination, concerned) in reached.items():
        yield destination_id, destination, concerned


def _add_to_window(destination_id, start, end, received: int, reasons: dict) -> None:
    run, _created = DataflowRun.objects.select_for_update().get_or_create(
        destination_id=destination_id,
        kind=Kind.STREAMING,
        source=start.isoformat(),
        defaults={"started_at": start, "window_end": end, "status": Status.RUNNING},
    )
    merged = dict(run.skip_reasons or {})
    for reason, count in reasons.items():
        merged[str(reason)] = merged.get(str(reason), 0) + count
    skipped = sum(reasons.values())
    DataflowRun.objects.filter(pk=run.pk).update(
        profiles_received=F("profiles_received") + received,
        profiles_skipped=F("profiles_skipped") + skipped,
        profiles_activated=F("profiles_activated") + max(0, received - skipped),
        skip_reasons=merged,
    )


def dataflow_runs_close_windows(*, now=None) -> list:
    """Finish the streaming runs whose window has ended (after counting what they still had waiting)."""
    now = now or timezone.now()
    dataflow_runs_count_streamed()
    with transaction.atomic():
        ended = list(
            DataflowRun.objects.filter(kind=Kind.STREAMING, status=Status.RUNNING, window_end__lte=now).values_list(
                "pk", flat=True
            )
        )
        DataflowRun.objects.filter(pk__in=ended, status=Status.RUNNING).update(
            status=Status.SUCCESS, finished_at=F("window_end")
        )
        _announce(ended)
    return ended


def dataflow_runs_catch_up(*, since: datetime.datetime) -> int:
    """
    Record the evaluations and imports finished since `since` whose runs are missing (the process that finished
    them stopped before it recorded them); return how many were recorded.
    """
    recorded = set(
        DataflowRun.objects.filter(kind__in=(Kind.BATCH, Kind.IMPORT), started_at__gte=since - _LONGEST_WORK)
        .values_list("source", flat=True)
        .distinct()
    )
    activated = Q(audience__activations__destination__enabled=True)
    evaluations = AudienceEvaluation.objects.filter(
        activated,
        status__in=(AudienceEvaluation.Status.SUCCEEDED, AudienceEvaluation.Status.FAILED),
        finished_at__gte=since,
        started_at__isnull=False,
    ).exclude(error__startswith="skipped:")
    imports = AudienceImport.objects.filter(
        activated, status=AudienceImport.Status.SUCCEEDED, finished_at__gte=since, started_at__isnull=False
    )
    missing = [
        ("evaluation:%s" % row.pk, Kind.BATCH, row, row.error if row.status == AudienceEvaluation.Status.FAILED else "")
        for row in evaluations.distinct()
    ] + [("import:%s" % row.pk, Kind.IMPORT, row, "") for row in imports.distinct()]
    caught = 0
    for source, kind, row, error in missing:
        if source in recorded:
            continue
        dataflow_runs_record(
            audience_id=row.audience_id,
            kind=kind,
            source=source,
            started_at=row.started_at,
            finished_at=row.finished_at,
            error=error,
        )
        caught += 1
    return caught
