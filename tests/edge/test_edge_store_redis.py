"""The production edge store: the same lookups against a real Redis, with and without the per-process mirror."""

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def test_a_warm_lookup_on_redis_runs_no_query(redis_store, scenario, django_assert_num_queries):
    headers = scenario.auth_headers()
    scenario.lookup(headers=headers)

    with django_assert_num_queries(0):
        entry = scenario.entry(scenario.lookup(headers=headers), "adServerAlias")

    assert entry["attributes"]["membershipStatus"] == {"value": "gold"}


def test_a_membership_change_shows_at_once_on_redis(redis_store, scenario, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from personalization.audiences.models import AudienceMembership

    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"]
    membership = AudienceMembership.objects.get(audience=scenario.gold, profile=scenario.profile)
    with django_capture_on_commit_callbacks(execute=True):
        membership.status, membership.exited_at = AudienceMembership.Status.EXITED, timezone.now()
        membership.save()

    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] == []


def test_the_rate_limit_counts_on_redis(redis_store, scenario, settings):
    settings.EDGE_RATE_LIMIT = 2
    statuses = [scenario.lookup().status_code for _ in range(4)]

    assert statuses.count(429) >= 1
    assert statuses[0] == 200


def test_a_revoked_credential_is_refused_at_once_on_redis(redis_store, scenario, django_capture_on_commit_callbacks):
    from accounts.services import api_credential_revoke

    credential, secret = scenario.credential()
    headers = {"Authorization": "Bearer %s" % scenario.token(credential, secret), "x-api-key": credential.client_id}
    scenario.lookup(headers=headers)
    assert scenario.lookup(headers=headers).status_code == 200  # the token is now held, in memory when mirrored

    with django_capture_on_commit_callbacks(execute=True):
        api_credential_revoke(user=scenario.admin, credential=credential)

    assert scenario.lookup(headers=headers).status_code == 401


def test_edge_rebuild_fills_redis_so_the_next_lookup_is_warm(redis_store, scenario, django_assert_num_queries):
    from django.core.management import call_command

    call_command("edge_rebuild", verbosity=0)

    with django_assert_num_queries(0):
        assert scenario.payload(scenario.lookup()) != []
