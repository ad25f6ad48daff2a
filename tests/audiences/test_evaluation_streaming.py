"""Streaming evaluation's cost: what a profile update spends on its audiences does not grow with their number."""

import json

import pytest

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import constants as perms
from personalization.audiences.evaluation import profile_streaming_evaluate
from personalization.audiences.models import Audience, AudienceMembership
from tests.factories import AudienceFactory, IdentityNamespaceFactory, ProfileFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db

GOLD = {"field": "loyalty.status", "op": "equals", "value": "gold"}
TYPES = {"loyalty.status": "string"}


@pytest.fixture
def schema(sandbox):
    IdentityNamespaceFactory(sandbox=sandbox, code="Email")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    return sandbox


def gold_audiences(sandbox, count, start=0):
    return [
        AudienceFactory(sandbox=sandbox, name="Gold %d" % index, rule=GOLD, evaluation="streaming")
        for index in range(start, start + count)
    ]


def test_one_read_and_at_most_one_write_per_kind_whatever_the_number_of_audiences(schema, django_assert_num_queries):
    audiences = gold_audiences(schema, 6)
    AudienceFactory(sandbox=schema, name="Gold (daily)", rule=GOLD, evaluation="batch")
    profile = ProfileFactory(sandbox=schema, attributes={"loyalty": {"status": "gold"}})

    # entering six audiences: the read, one INSERT, one count UPDATE, one change row for the dataflow runs
    with django_assert_num_queries(4):
        entered = profile_streaming_evaluate(profile=profile, field_types=TYPES, announce=False)
    assert len(entered) == 6

    # nothing changes: the read only
    with django_assert_num_queries(1):
        assert profile_streaming_evaluate(profile=profile, field_types=TYPES, announce=False) == []

    # leaving all six: the read, one UPDATE of the memberships, one count UPDATE, one change row
    profile.attributes = {"loyalty": {"status": "silver"}}
    with django_assert_num_queries(4):
        exited = profile_streaming_evaluate(profile=profile, field_types=TYPES, announce=False)
    assert {transition.after for transition in exited} == {"exited"}
    assert set(AudienceMembership.objects.filter(profile=profile).values_list("status", flat=True)) == {"exited"}
    assert set(Audience.objects.filter(pk__in=[a.pk for a in audiences]).values_list("profile_count", flat=True)) == {0}


def test_counts_move_per_audience_in_one_update(schema):
    entering, leaving = gold_audiences(schema, 2)
    silver = AudienceFactory(
        sandbox=schema, name="Silver", rule={"field": "loyalty.status", "op": "equals", "value": "silver"}
    )
    Audience.objects.filter(pk=silver.pk).update(evaluation="streaming", profile_count=4)
    Audience.objects.filter(pk__in=[entering.pk, leaving.pk]).update(profile_count=2)
    profile = ProfileFactory(sandbox=schema, attributes={"loyalty": {"status": "silver"}})
    profile_streaming_evaluate(profile=profile, field_types=TYPES, announce=False)

    profile.attributes = {"loyalty": {"status": "gold"}}
    profile_streaming_evaluate(profile=profile, field_types=TYPES, announce=False)

    counts = dict(Audience.objects.values_list("name", "profile_count"))
    assert counts == {"Gold 0": 3, "Gold 1": 3, "Silver": 4}


@pytest.fixture
def writer(user, schema, grant):
    grant(user, schema, perms.VIEW_PROFILES, perms.MANAGE_PROFILES)
    return user


def put_queries(client, email: str) -> int:
    body = {"sandbox": "alpha", "attributes": {"loyalty": {"status": "gold"}}}
    with CaptureQueriesContext(connection) as queries:
        response = client.put(
            "/api/v1/profiles/Email/%s/" % email, data=json.dumps(body), content_type="application/json"
        )
    assert response.status_code == 200, response.content
    return len(queries)


def test_a_put_costs_as_many_queries_with_one_streaming_audience_as_with_ten(user_client, writer, schema):
    for email in ("ada@example.com", "bob@example.com"):
        user_client.put(
            "/api/v1/profiles/Email/%s/" % email,
            data=json.dumps({"sandbox": "alpha", "attributes": {"loyalty": {"status": "silver"}}}),
            content_type="application/json",
        )
    gold_audiences(schema, 1)
    with_one = put_queries(user_client, "ada@example.com")

    gold_audiences(schema, 9, start=1)
    with_ten = put_queries(user_client, "bob@example.com")

    assert with_ten == with_one
    assert AudienceMembership.objects.filter(status="realized").count() == 11
