"""Batch evaluation: set-based membership transitions, chunks, progress, idempotency, the task and the schedule."""

import datetime

import pytest

from django.utils import timezone

from accounts.constants import MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization import changes
from personalization.audiences import tasks
from personalization.audiences.evaluation import audience_evaluate, audience_evaluation_run
from personalization.audiences.models import Audience, AudienceEvaluation, AudienceMembership
from personalization.audiences.services import (
    audience_create,
    audience_evaluation_claim,
    audience_evaluation_enqueue,
    audience_evaluations_schedule,
    audience_publish,
)
from tests.factories import AudienceFactory, MembershipFactory, ProfileFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db

GOLD = {"field": "loyalty.status", "op": "equals", "value": "gold"}
EXITED_LONG_AGO = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
def schema(sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.points", field_type="number")
    return sandbox


@pytest.fixture
def gold(schema):
    return AudienceFactory(sandbox=schema, name="Gold", rule=GOLD)


def person(sandbox, status):
    return ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"status": status}} if status else {})


def statuses(audience):
    return dict(AudienceMembership.objects.filter(audience=audience).values_list("profile_id", "status"))


@pytest.fixture
def announced():
    """Record what the evaluation announces to the edge store."""
    calls = {"profiles": set(), "configuration": 0}

    def on_profiles(sender, sandbox_id, profile_ids, **kwargs):
        calls["profiles"].update(profile_ids)

    def on_configuration(sender, sandbox_id, **kwargs):
        calls["configuration"] += 1

    changes.profiles_changed.connect(on_profiles, weak=False)
    changes.configuration_changed.connect(on_configuration, weak=False)
    yield calls
    changes.profiles_changed.disconnect(on_profiles)
    changes.configuration_changed.disconnect(on_configuration)


def test_batch_evaluation_moves_every_membership_through_its_lifecycle(
    gold, schema, django_capture_on_commit_callbacks
):
    # given: a newcomer, a kept member, a leaver, a returning one, and someone who never qualified
    newcomer = person(schema, "gold")
    kept = person(schema, "gold")
    leaver = person(schema, "silver")
    returning = person(schema, "gold")
    outsider = person(schema, None)
    MembershipFactory(audience=gold, profile=kept, status="realized")
    MembershipFactory(audience=gold, profile=leaver, status="existing")
    MembershipFactory(audience=gold, profile=returning, status="exited", exited_at=EXITED_LONG_AGO)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        evaluation = audience_evaluate(audience_id=gold.pk)

    # then
    assert statuses(gold) == {
        newcomer.pk: "realized",
        kept.pk: "existing",
        leaver.pk: "exited",
        returning.pk: "realized",
    }
    assert outsider.pk not in statuses(gold)
    leaving = AudienceMembership.objects.get(audience=gold, profile=leaver)
    assert leaving.exited_at is not None
    back = AudienceMembership.objects.get(audience=gold, profile=returning)
    assert back.exited_at is None and back.qualified_at > EXITED_LONG_AGO
    gold.refresh_from_db()
    assert gold.profile_count == 3
    assert gold.last_evaluated_at is not None
    assert (evaluation.status, evaluation.total, evaluation.processed) == ("succeeded", 5, 5)
    assert (evaluation.entered, evaluation.exited) == (2, 1)
    assert evaluation.progress == 1.0


def test_a_second_evaluation_turns_realized_into_existing_and_changes_nothing_else(gold, schema):
    member = person(schema, "gold")
    audience_evaluate(audience_id=gold.pk)

    evaluation = audience_evaluate(audience_id=gold.pk)

    assert statuses(gold) == {member.pk: "existing"}
    assert (evaluation.entered, evaluation.exited) == (0, 0)


def test_chunks_cover_the_sandbox_exactly_once(gold, schema, settings):
    settings.AUDIENCE_EVALUATION_CHUNK_SIZE = 2
    members = {person(schema, "gold").pk for _ in range(4)}
    for _ in range(3):
        person(schema, "bronze")

    evaluation = audience_evaluate(audience_id=gold.pk)

    assert set(statuses(gold)) == members
    assert (evaluation.total, evaluation.processed) == (7, 7)


def test_profiles_of_other_sandboxes_are_never_members(gold, other_sandbox):
    person(other_sandbox, "gold")

    audience_evaluate(audience_id=gold.pk)

    assert statuses(gold) == {}


def test_a_resumed_evaluation_continues_after_its_cursor(gold, schema, settings):
    settings.AUDIENCE_EVALUATION_CHUNK_SIZE = 2
    profiles = sorted((person(schema, "gold") for _ in range(4)), key=lambda p: str(p.pk))
    # given: a run that died after its first chunk (those two were written, the cursor says so)
    evaluation = AudienceEvaluation.objects.create(
        audience=gold, status="running", cursor=profiles[1].pk, processed=2, total=4
    )

    audience_evaluation_run(evaluation_id=evaluation.pk)

    assert set(statuses(gold)) == {profiles[2].pk, profiles[3].pk}
    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.processed) == ("succeeded", 4)


def test_running_the_same_evaluation_twice_does_the_work_once(gold, schema):
    person(schema, "gold")
    evaluation = audience_evaluation_claim(audience_id=gold.pk, trigger="manual")

    first = audience_evaluation_run(evaluation_id=evaluation.pk)
    second = audience_evaluation_run(evaluation_id=evaluation.pk)

    assert first.status == "succeeded"
    assert second is None
    assert AudienceMembership.objects.filter(audience=gold).count() == 1


def test_asking_twice_queues_one_evaluation(gold):
    first = audience_evaluation_claim(audience_id=gold.pk, trigger="manual")
    second = audience_evaluation_claim(audience_id=gold.pk, trigger="schedule")

    assert first == second
    assert AudienceEvaluation.objects.filter(audience=gold).count() == 1


def test_changed_profiles_are_announced_to_the_edge_store(gold, schema, announced, django_capture_on_commit_callbacks):
    newcomer = person(schema, "gold")
    leaver = person(schema, "silver")
    kept = person(schema, "gold")
    MembershipFactory(audience=gold, profile=leaver, status="existing")
    MembershipFactory(audience=gold, profile=kept, status="existing")

    with django_capture_on_commit_callbacks(execute=True):
        audience_evaluate(audience_id=gold.pk)

    assert announced["profiles"] == {newcomer.pk, leaver.pk}
    assert announced["configuration"] == 0


def test_past_the_announce_limit_the_whole_sandbox_is_announced_once(
    gold, schema, announced, settings, django_capture_on_commit_callbacks
):
    settings.AUDIENCE_EVALUATION_ANNOUNCE_LIMIT = 2
    for _ in range(3):
        person(schema, "gold")

    with django_capture_on_commit_callbacks(execute=True):
        audience_evaluate(audience_id=gold.pk)

    assert announced["configuration"] == 1


def test_rules_with_event_conditions_are_not_batch_evaluated(schema):
    checkout = AudienceFactory(
        sandbox=schema,
        evaluation="edge",
        rule={"all": [GOLD, {"event": "eventType", "op": "equals", "value": "commerce.checkouts"}]},
    )
    member = person(schema, "gold")
    MembershipFactory(audience=checkout, profile=member, status="realized")

    evaluation = audience_evaluate(audience_id=checkout.pk)

    assert evaluation.error.startswith("skipped")
    assert statuses(checkout) == {member.pk: "realized"}


#
# Publishing, the task and the schedule
#


@pytest.fixture
def manager(user, schema, grant):
    grant(user, schema, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    return user


def test_publishing_a_segmentation_audience_runs_its_first_evaluation(
    manager, schema, django_capture_on_commit_callbacks
):
    member = person(schema, "gold")
    audience = audience_create(user=manager, sandbox=schema, name="Gold", rule=GOLD)
    assert not AudienceEvaluation.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        audience_publish(user=manager, audience=audience)

    assert statuses(audience) == {member.pk: "realized"}
    evaluation = AudienceEvaluation.objects.get(audience=audience)
    assert (evaluation.trigger, evaluation.status) == ("publish", "succeeded")


def test_creating_an_audience_as_published_evaluates_it(manager, schema, django_capture_on_commit_callbacks):
    member = person(schema, "gold")

    with django_capture_on_commit_callbacks(execute=True):
        audience = audience_create(user=manager, sandbox=schema, name="Gold", rule=GOLD, status="published")

    assert statuses(audience) == {member.pk: "realized"}


def test_publishing_without_a_rule_is_refused_on_the_rule(manager, schema):
    audience = audience_create(user=manager, sandbox=schema, name="Empty")

    with pytest.raises(Exception) as excinfo:
        audience_publish(user=manager, audience=audience)

    assert "rule" in excinfo.value.message_dict


def test_the_task_names_are_stable():
    assert tasks.evaluate_audience.name == "personalization.audiences.evaluate_audience"
    assert tasks.evaluate_published_audiences.name == "personalization.audiences.evaluate_published_audiences"


def test_the_evaluation_task_is_enqueued_after_commit_only(gold, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.evaluate_audience, "delay", lambda evaluation_id: sent.append(evaluation_id))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        evaluation = audience_evaluation_enqueue(audience=gold, trigger="manual")
    assert sent == []

    for callback in callbacks:
        callback()
    assert sent == [evaluation.pk]


def test_a_failing_evaluation_is_marked_failed_with_the_error(gold, monkeypatch):
    evaluation = audience_evaluation_claim(audience_id=gold.pk, trigger="manual")

    def explode(**kwargs):
        raise ValueError("the rule compiler broke")

    monkeypatch.setattr("personalization.audiences.evaluation.audience_evaluation_run", explode)
    with pytest.raises(ValueError):
        tasks.evaluate_audience.apply(args=[evaluation.pk], throw=True)

    evaluation.refresh_from_db()
    assert evaluation.status == "failed"
    assert evaluation.error == "ValueError: the rule compiler broke"


def test_the_periodic_run_queues_published_rule_audiences_and_requeues_stale_runs(schema, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.evaluate_audience, "delay", lambda evaluation_id: sent.append(evaluation_id))
    batch = AudienceFactory(sandbox=schema, rule=GOLD)
    streaming = AudienceFactory(sandbox=schema, rule=GOLD, evaluation="streaming")
    AudienceFactory(sandbox=schema, rule=GOLD, status=Audience.Status.DRAFT)
    AudienceFactory(sandbox=schema, rule=None, origin=Audience.Origin.CUSTOM_UPLOAD)
    stuck = AudienceFactory(sandbox=schema, rule=GOLD, status=Audience.Status.INACTIVE)
    stale = AudienceEvaluation.objects.create(audience=stuck, status="running")
    AudienceEvaluation.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - datetime.timedelta(hours=2))

    assert audience_evaluations_schedule() == 2

    queued = AudienceEvaluation.objects.filter(status="queued")
    assert set(queued.values_list("audience_id", flat=True)) == {batch.pk, streaming.pk, stuck.pk}
    assert set(queued.filter(trigger="schedule").values_list("audience_id", flat=True)) == {batch.pk, streaming.pk}


def test_the_beat_schedule_runs_the_periodic_evaluation_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["evaluate-published-audiences"]

    assert entry["task"] == "personalization.audiences.evaluate_published_audiences"
    assert entry["schedule"].hour == {2} and entry["schedule"].minute == {0}


def test_changing_a_published_audiences_rule_re_evaluates_it(manager, schema, django_capture_on_commit_callbacks):
    from personalization.audiences.services import audience_update

    silver = person(schema, "silver")
    gold_member = person(schema, "gold")
    with django_capture_on_commit_callbacks(execute=True):
        audience = audience_create(user=manager, sandbox=schema, name="Tier", rule=GOLD, status="published")
    assert set(statuses(audience)) == {gold_member.pk}

    with django_capture_on_commit_callbacks(execute=True):
        audience_update(
            user=manager, audience=audience, rule={"field": "loyalty.status", "op": "equals", "value": "silver"}
        )

    assert statuses(audience) == {gold_member.pk: "exited", silver.pk: "realized"}


def test_an_audience_included_by_another_rule_cannot_be_deleted(manager, schema):
    from django.core.exceptions import ValidationError

    from personalization.audiences.services import audience_delete

    vip = AudienceFactory(sandbox=schema, name="VIP")
    AudienceFactory(sandbox=schema, name="VIP fans", rule={"in_audience": str(vip.pk)})

    with pytest.raises(ValidationError) as excinfo:
        audience_delete(user=manager, audience=vip)

    assert excinfo.value.messages == [
        "VIP is included by the rules of VIP fans; remove it from those rules before you delete it."
    ]
