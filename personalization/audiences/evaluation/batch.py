"""
Batch evaluation: a whole sandbox, set-based SQL in profile-id chunks, resumable and safe to run twice.

On PostgreSQL a run builds a work list of the memberships that change (one full join of the rule's profiles and
the audience's memberships), then applies it chunk by chunk; elsewhere (SQLite) each chunk is evaluated with the
ORM. Both write the same memberships (tests/audiences/test_write_paths_equal.py).

Membership statuses: a profile that starts to qualify becomes `realized` (with `qualified_at`), one that still
qualifies at the next batch run becomes `existing`, one that stops qualifying becomes `exited` (with
`exited_at`); an exited profile that qualifies again is `realized` again.

Bulk writes bypass model signals, so the run announces the profiles whose memberships changed
(`personalization.changes`), or, past `AUDIENCE_EVALUATION_ANNOUNCE_LIMIT` profiles, the whole sandbox.
"""

import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from personalization import changes
from personalization.audiences.models import Audience, AudienceEvaluation, AudienceMembership
from personalization.audiences.rules import field_types_for, rule_to_q, uses_events
from personalization.profiles.models import Profile

logger = logging.getLogger("personalization.audiences.evaluation")

__all__ = [
    "audience_evaluate",
    "audience_evaluation_claim",
    "audience_evaluation_run",
    "is_batch_evaluable",
]

ACTIVE = AudienceMembership.ACTIVE_STATUSES
# The databases whose runs build a work list in SQL (`_WORK_SQL`); the others evaluate each chunk with the ORM.
# Both write the same memberships: a test runs both on PostgreSQL (tests/audiences/test_write_paths_equal.py).
WORK_LIST_VENDORS = ("postgresql",)
# The cursor of an evaluation whose last chunk is done.
_LAST = uuid.UUID(int=(1 << 128) - 1)
Status = AudienceMembership.Status


def is_batch_evaluable(audience: Audience) -> bool:
    """Return whether batch evaluation applies: a published segmentation rule without event conditions."""
    return (
        audience.origin == Audience.Origin.SEGMENTATION
        and audience.status == Audience.Status.PUBLISHED
        and isinstance(audience.rule, dict)
        and not uses_events(audience.rule)
    )


#
# Batch
#


def _chunk_size() -> int:
    return settings.AUDIENCE_EVALUATION_CHUNK_SIZE


def _announce_limit() -> int:
    return settings.AUDIENCE_EVALUATION_ANNOUNCE_LIMIT


def _boundaries(total: int, after, size: int) -> list[uuid.UUID]:
    """
    Split the UUID space into equal id ranges holding about `size` of the sandbox's `total` profiles each
    (profile ids are random UUIDs, so ranges of equal width hold about as many) and return the upper
    boundaries after `after`. Costs no query; the last chunk is the one after the last boundary.
    """
    chunks = max(1, -(-total // size))
    bounds = [uuid.UUID(int=(index * (1 << 128)) // chunks - 1) for index in range(1, chunks)]
    return [bound for bound in bounds if after is None or bound > after]


def _in_range(queryset, field: str, low, high):
    if low is not None:
        queryset = queryset.filter(**{field + "__gt": low})
    if high is not None:
        queryset = queryset.filter(**{field + "__lte": high})
    return queryset


# The work list of a PostgreSQL run: every profile (after the cursor) whose membership must change, and what to
# do. `q` holds the rule's qualifying profiles (the rule is evaluated once, by a parallel scan where PostgreSQL
# can), `m` the audience's memberships; their full join classifies each profile: `enter` (no membership), `keep`
# (realized, becomes existing), `back` (exited, realized again) or `exit` (active, no longer qualifies).
# Qualifying existing members and exited non-qualifiers need nothing, so a run where nobody changes writes nothing.
# A hash or merge full join: neither side is ever re-scanned per row, whatever the statistics say.
_WORK_SQL = """
CREATE TEMPORARY TABLE {work} AS
SELECT COALESCE(q.pk, m.profile_id) AS pk, m.id AS membership,
       CASE WHEN q.pk IS NULL THEN 'exit' WHEN m.id IS NULL THEN 'enter'
            WHEN m.status = 'realized' THEN 'keep' ELSE 'back' END AS action
FROM ({qualifying}) AS q (pk)
FULL JOIN (
    SELECT id, profile_id, status FROM {memberships} WHERE audience_id = %s {member_range}
) AS m ON m.profile_id = q.pk
WHERE CASE WHEN q.pk IS NULL THEN m.status IN ('realized', 'existing') ELSE m.status IS DISTINCT FROM 'existing' END
"""

# One chunk of the work list. Memberships to update are found by primary key (`id = ANY (ARRAY(...))`: no
# join order for stale statistics to get wrong) and their status is checked again, so one that changed since the
# work list was made is moved on from its current status, or left alone; newcomers are inserted, and a membership
# that appeared meanwhile is left to ON CONFLICT. `{result}` returns the transitions (`kind`, `profile_id`), or only
# their counts when nobody needs them one by one.
_APPLY_SQL = """
WITH w AS MATERIALIZED (SELECT pk, membership, action FROM {work} AS w WHERE TRUE {work_range}),
leaving AS (
    UPDATE {memberships} SET status = 'exited', exited_at = %(now)s
    WHERE id = ANY (ARRAY(SELECT membership FROM w WHERE action = 'exit'))
      AND status IN ('realized', 'existing')
    RETURNING profile_id
),
staying AS (
    UPDATE {memberships}
    SET status = CASE status WHEN 'realized' THEN 'existing' ELSE 'realized' END,
        qualified_at = CASE status WHEN 'realized' THEN qualified_at ELSE %(now)s END,
        exited_at = NULL
    WHERE id = ANY (ARRAY(SELECT membership FROM w WHERE action IN ('keep', 'back')))
      AND status IN ('realized', 'exited')
    RETURNING status, profile_id
),
new AS (
    INSERT INTO {memberships} (audience_id, profile_id, status, qualified_at, exited_at, payload)
    SELECT %(audience)s, pk, 'realized', %(now)s, NULL, '{{}}'::jsonb FROM w WHERE action = 'enter' ORDER BY pk
    ON CONFLICT (audience_id, profile_id) DO NOTHING
    RETURNING profile_id
),
transitions (kind, profile_id) AS (
    SELECT 'exited', profile_id FROM leaving
    UNION ALL SELECT 'entered', profile_id FROM staying WHERE status = 'realized'
    UNION ALL SELECT 'entered', profile_id FROM new
)
{result}
"""
_APPLY_IDS = "SELECT kind, profile_id FROM transitions"
_APPLY_COUNTS = "SELECT kind, count(*) FROM transitions GROUP BY kind"


@dataclass(frozen=True)
class _WorkList:
    table: str
    rows: int  # memberships to write
    changes: int  # of which profiles that enter or exit


def _work_list_postgres(audience: Audience, rule_q, evaluation_id, after) -> _WorkList:
    """
    Build the run's work list (see `_WORK_SQL`) in a temporary table indexed by profile id, and return it with
    how many profiles will enter or exit. Reading profiles chunk by chunk instead would read most of the table
    once per chunk: random ids spread every id range over all its pages. The table lives as long as this
    database session.
    """
    table = connection.ops.quote_name("cpc_evaluation_%d" % evaluation_id)
    qualifying = Profile.objects.filter(sandbox_id=audience.sandbox_id).filter(rule_q)
    member_range, range_params = "", []
    if after is not None:
        qualifying = qualifying.filter(pk__gt=after)
        member_range, range_params = "AND profile_id > %s", [after]
    try:
        qualifying_sql, qualifying_params = qualifying.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        # The rule can match nobody (e.g. its field was deleted): the same query with a condition no row meets.
        nobody = Profile.objects.filter(sandbox_id=audience.sandbox_id, pk__isnull=True)
        qualifying_sql, qualifying_params = nobody.order_by().values("pk").query.sql_with_params()
    statement = _WORK_SQL.format(
        work=table,
        qualifying=qualifying_sql,
        memberships=connection.ops.quote_name(AudienceMembership._meta.db_table),
        member_range=member_range,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Room to hash a large audience's memberships in memory (this transaction only).
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("DROP TABLE IF EXISTS %s" % table)
        cursor.execute(statement, [*qualifying_params, audience.pk, *range_params])
        cursor.execute("CREATE UNIQUE INDEX ON %s (pk)" % table)
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE action <> 'keep') FROM %s" % table  # noqa: S608  (our own table)
        )
        rows, changes = cursor.fetchone()
    return _WorkList(table=table, rows=rows, changes=changes)


def _drop_work_list(work: _WorkList | None) -> None:
    if work is not None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS %s" % work.table)


def _apply_range_postgres(audience: Audience, work: _WorkList, low, high, now, *, ids: bool) -> tuple:
    """Apply one chunk of the work list; return `(entered, exited)`, as id lists with `ids`, else as counts."""
    if not work.rows:
        return ([], []) if ids else (0, 0)
    work_range = ""
    if low is not None:
        work_range += " AND w.pk > %(low)s"
    if high is not None:
        work_range += " AND w.pk <= %(high)s"
    statement = _APPLY_SQL.format(
        memberships=connection.ops.quote_name(AudienceMembership._meta.db_table),
        work=work.table,
        work_range=work_range,
        result=_APPLY_IDS if ids else _APPLY_COUNTS,
    )
    with connection.cursor() as cursor:
        # A lost commit after a crash only means a chunk is done again (the cursor is in the same transaction).
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(statement, {"audience": audience.pk, "now": now, "low": low, "high": high})
        rows = cursor.fetchall()
    if ids:
        return (
            [profile_id for kind, profile_id in rows if kind == "entered"],
            [profile_id for kind, profile_id in rows if kind == "exited"],
        )
    counts = dict(rows)
    return counts.get("entered", 0), counts.get("exited", 0)


def _evaluate_range(audience: Audience, rule_q, low, high, now) -> tuple[list, list]:
    """Update one chunk's memberships set-based (any database); return `(entered_ids, exited_ids)`."""
    qualifying = _in_range(Profile.objects.filter(sandbox_id=audience.sandbox_id), "pk", low, high).filter(rule_q)
    members = _in_range(AudienceMembership.objects.filter(audience=audience), "profile_id", low, high)
    active = members.filter(status__in=ACTIVE)

    leaving = list(active.exclude(profile_id__in=qualifying.values("pk")).values_list("profile_id", flat=True))
    if leaving:
        active.filter(profile_id__in=leaving).update(status=Status.EXITED, exited_at=now)
    members.filter(status=Status.REALIZED, profile_id__in=qualifying.values("pk")).update(status=Status.EXISTING)
    entering = list(qualifying.exclude(pk__in=active.values("profile_id")).values_list("pk", flat=True))
    if entering:
        members.filter(status=Status.EXITED, profile_id__in=qualifying.values("pk")).update(
            status=Status.REALIZED, qualified_at=now, exited_at=None
        )
        AudienceMembership.objects.bulk_create(
            [
                AudienceMembership(audience=audience, profile_id=pk, status=Status.REALIZED, qualified_at=now)
                for pk in entering
            ],
            ignore_conflicts=True,
            batch_size=2_000,
        )
    return entering, leaving


def _claim(evaluation_id) -> AudienceEvaluation | None:
    """Claim a queued evaluation (or resume a running one after a retry); None when there is nothing to do."""
    now = timezone.now()
    AudienceEvaluation.objects.filter(pk=evaluation_id, status=AudienceEvaluation.Status.QUEUED).update(
        status=AudienceEvaluation.Status.RUNNING, started_at=now
    )
    evaluation = (
        AudienceEvaluation.objects.select_related("audience")
        .filter(pk=evaluation_id, status=AudienceEvaluation.Status.RUNNING)
        .first()
    )
    if evaluation is not None and evaluation.cursor is None and evaluation.processed == 0:
        evaluation.total = Profile.objects.filter(sandbox_id=evaluation.audience.sandbox_id).count()
        evaluation.save(update_fields=["total", "updated_at"])
    return evaluation


def audience_evaluation_run(*, evaluation_id) -> AudienceEvaluation | None:
    """
    Run (or resume) a queued batch evaluation; safe to call twice with the same id.

    Each chunk of profiles is one transaction that also advances the evaluation's cursor, guarded by the
    cursor it started from, so a redelivered task never applies a chunk twice and a crashed run resumes.
    """
    evaluation = _claim(evaluation_id)
    if evaluation is None:
        return None
    audience = evaluation.audience
    if not is_batch_evaluable(audience):
        return _finish(evaluation, audience, note="skipped: the audience is not a published rule without events")
    rule_q = rule_to_q(audience.rule, field_types=field_types_for(audience.sandbox_id), today=timezone.now().date())
    size = _chunk_size()
    cursor = evaluation.cursor
    boundaries = iter(_boundaries(evaluation.total, cursor, size))
    work = None
    if connection.vendor in WORK_LIST_VENDORS:
        work = _work_list_postgres(audience, rule_q, evaluation.pk, cursor)
    try:
        return _run_chunks(evaluation, audience, rule_q, cursor, boundaries, work)
    finally:
        _drop_work_list(work)


def _run_chunks(evaluation, audience, rule_q, cursor, boundaries, work) -> AudienceEvaluation | None:
    limit = _announce_limit()
    # Past the limit the whole sandbox is announced once at the end; on PostgreSQL the work list tells up front,
    # so the chunks then only count their transitions.
    announced, too_many = 0, work is not None and work.changes > limit
    while cursor != _LAST:
        high = next(boundaries, None)
        now = timezone.now()
        with transaction.atomic():
            if cursor is None:
                advanced = AudienceEvaluation.objects.filter(
                    pk=evaluation.pk, status=AudienceEvaluation.Status.RUNNING, cursor__isnull=True
                )
            else:
                advanced = AudienceEvaluation.objects.filter(
                    pk=evaluation.pk, status=AudienceEvaluation.Status.RUNNING, cursor=cursor
                )
            if work is None:
                entered, exited = _evaluate_range(audience, rule_q, cursor, high, now)
            else:
                entered, exited = _apply_range_postgres(audience, work, cursor, high, now, ids=not too_many)
            counted = (entered, exited) if isinstance(entered, int) else (len(entered), len(exited))
            # Ranges of equal width hold about equal shares of random ids: progress is that share.
            share = 1.0 if high is None else (high.int + 1) / (1 << 128)
            claimed = advanced.update(
                cursor=high or _LAST,
                processed=min(evaluation.total, round(evaluation.total * share)),
                entered=F("entered") + counted[0],
                exited=F("exited") + counted[1],
                updated_at=now,
            )
            if not claimed:
                # Another worker advanced this evaluation meanwhile: drop this chunk's writes and stop.
                transaction.set_rollback(True)
                logger.info("audience.evaluation.superseded", extra={"evaluation_id": evaluation.pk})
                return None
            if not too_many and (counted[0] or counted[1]):
                changed = [*entered, *exited]
                if announced + len(changed) <= limit:
                    changes.announce_profiles_changed(audience.sandbox_id, changed)
                    announced += len(changed)
                else:
                    too_many = True
        cursor = high or _LAST
    if too_many:
        changes.announce_configuration_changed(audience.sandbox_id)
    evaluation.refresh_from_db()
    return _finish(evaluation, audience)


def _finish(evaluation: AudienceEvaluation, audience: Audience, note: str = "") -> AudienceEvaluation:
    now = timezone.now()
    count = AudienceMembership.objects.filter(audience=audience, status__in=ACTIVE).count()
    Audience.objects.filter(pk=audience.pk).update(profile_count=count, last_evaluated_at=now)
    evaluation.status = AudienceEvaluation.Status.SUCCEEDED
    evaluation.finished_at = now
    evaluation.error = note
    evaluation.save(update_fields=["status", "finished_at", "error", "updated_at"])
    if not note:  # a skipped evaluation moved nobody: no dataflow run
        changes.announce_audience_work_finished(
            audience_id=audience.pk,
            kind="batch",
            source="evaluation:%s" % evaluation.pk,
            started_at=evaluation.started_at or evaluation.created_at,
            finished_at=now,
        )
    logger.info(
        "audience.evaluation.finished",
        extra={"evaluation_id": evaluation.pk, "entered": evaluation.entered, "exited": evaluation.exited},
    )
    return evaluation


def audience_evaluation_claim(*, audience_id, trigger: str) -> AudienceEvaluation | None:
    """
    Return the audience's queued or running evaluation, or queue a new one; None when the audience is gone.

    Idempotent: the database allows one active evaluation per audience, so concurrent calls share it.
    """
    audience = Audience.objects.filter(pk=audience_id).first()
    if audience is None:
        return None
    active = AudienceEvaluation.objects.filter(audience=audience, status__in=AudienceEvaluation.ACTIVE_STATUSES)
    existing = active.first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return AudienceEvaluation.objects.create(audience=audience, trigger=trigger)
    except IntegrityError:
        return active.first()


def audience_evaluate(*, audience_id, trigger: str = AudienceEvaluation.Trigger.MANUAL) -> AudienceEvaluation | None:
    """
    Evaluate an audience over its whole sandbox now, in this process, and return the finished evaluation.

    Joins the audience's queued or running evaluation if it has one. Celery runs the same code through
    `tasks.evaluate_audience` (see `services.audience_evaluation_enqueue`).
    """
    evaluation = audience_evaluation_claim(audience_id=audience_id, trigger=trigger)
    if evaluation is None:
        return None
    return audience_evaluation_run(evaluation_id=evaluation.pk)
