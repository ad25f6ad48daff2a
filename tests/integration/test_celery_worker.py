"""With a real worker: publishing an audience queues its batch evaluation, the worker runs it, members appear."""

import time

import pytest

from accounts.constants import MANAGE_SEGMENTS, VIEW_SEGMENTS
from accounts.services import role_create
from personalization.audiences.models import AudienceEvaluation, AudienceMembership
from personalization.audiences.services import audience_create, audience_publish
from tests.factories import ProfileFactory, ProfileFieldFactory, SandboxFactory, UserFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 60


def wait_for(predicate, worker, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail("timed out waiting for %s; worker log:\n%s" % (what, worker.log()[-4000:]))


def test_publishing_an_audience_is_evaluated_by_the_worker(celery_worker):
    # given: a sandbox with two gold members and one silver, and a draft audience for gold members
    sandbox = SandboxFactory(name="integration")
    manager = UserFactory(username="integration-manager")
    role_create(name="segments", permissions=[VIEW_SEGMENTS, MANAGE_SEGMENTS], users=[manager], sandboxes=[sandbox])
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    gold = {ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"status": "gold"}}).pk for _ in range(2)}
    ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"status": "silver"}})
    audience = audience_create(
        user=manager,
        sandbox=sandbox,
        name="Gold",
        rule={"field": "loyalty.status", "op": "equals", "value": "gold"},
    )

    # when: it is published (the task is sent to Redis when the transaction commits)
    audience_publish(user=manager, audience=audience)
    evaluation = AudienceEvaluation.objects.get(audience=audience)

    # then: the worker claims and finishes it, and the members are there
    wait_for(
        lambda: AudienceEvaluation.objects.filter(pk=evaluation.pk, status="succeeded").exists(),
        celery_worker,
        "the evaluation to succeed",
    )
    assert set(AudienceMembership.objects.filter(audience=audience).values_list("profile_id", flat=True)) == gold
    audience.refresh_from_db()
    assert audience.profile_count == 2
    assert "personalization.audiences.evaluate_audience" in celery_worker.log()
