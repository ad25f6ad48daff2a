"""The audience API's publish, evaluate and evaluations actions, and the rule's text and edge eligibility."""

import pytest

from accounts import constants as perms
from personalization.audiences.models import AudienceEvaluation, AudienceMembership
from tests.factories import AudienceFactory, ProfileFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db

GOLD = {"field": "loyalty.status", "op": "equals", "value": "gold"}


@pytest.fixture
def gold_member(sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    return ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"status": "gold"}})


@pytest.fixture
def manager(user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_SEGMENTS, perms.MANAGE_SEGMENTS)
    return user


def url(audience, action=""):
    return "/api/v1/audiences/%s/%s" % (audience.pk, action + "/" if action else "")


def test_publishing_through_the_api_evaluates_the_audience(
    user_client, manager, sandbox, gold_member, django_capture_on_commit_callbacks
):
    audience = AudienceFactory(sandbox=sandbox, status="draft", rule=GOLD)

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(url(audience, "publish"))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "published"
    assert AudienceMembership.objects.get(audience=audience).profile == gold_member
    evaluations = user_client.get(url(audience, "evaluations")).json()["results"]
    assert [(e["trigger"], e["status"], e["processed"], e["progress"]) for e in evaluations] == [
        ("publish", "succeeded", 1, 1.0)
    ]


def test_publishing_without_a_rule_is_refused_on_the_rule(user_client, manager, sandbox):
    audience = AudienceFactory(sandbox=sandbox, status="draft", rule=None)

    response = user_client.post(url(audience, "publish"))

    assert response.status_code == 400
    assert "rule" in response.json()


def test_a_manual_evaluation_is_accepted_and_reports_its_progress(
    user_client, manager, sandbox, gold_member, django_capture_on_commit_callbacks
):
    audience = AudienceFactory(sandbox=sandbox, rule=GOLD)

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(url(audience, "evaluate"))

    assert response.status_code == 202, response.content
    assert response.json()["trigger"] == "manual"
    assert AudienceEvaluation.objects.get(pk=response.json()["id"]).status == "succeeded"


def test_drafts_and_uploads_are_not_batch_evaluated(user_client, manager, sandbox):
    draft = AudienceFactory(sandbox=sandbox, status="draft", rule={"all": []})

    response = user_client.post(url(draft, "evaluate"))

    assert response.status_code == 400
    assert "status" in response.json()


def test_viewers_cannot_publish_or_evaluate(user_client, user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_SEGMENTS)
    audience = AudienceFactory(sandbox=sandbox, status="draft", rule={"all": []})

    assert user_client.post(url(audience, "publish")).status_code == 403
    assert user_client.post(url(audience, "evaluate")).status_code == 403
    assert user_client.get(url(audience, "evaluations")).status_code == 200


def test_audiences_of_invisible_sandboxes_are_404(user_client, manager, other_sandbox):
    audience = AudienceFactory(sandbox=other_sandbox, status="draft", rule={"all": []})

    assert user_client.post(url(audience, "publish")).status_code == 404


def test_the_detail_shows_the_rule_as_text_and_its_edge_eligibility(user_client, manager, sandbox, gold_member):
    audience = AudienceFactory(sandbox=sandbox, rule=GOLD)

    body = user_client.get(url(audience)).json()

    assert body["rule_text"] == 'loyalty.status equals "gold"'
    assert body["edge"] == {"eligible": True, "reason": "Profile-only rule: the edge evaluates it against the profile."}
