"""Profile ingestion: PUT/PATCH by identity, schema checks, streaming evaluation, and the lookup sees it at once."""

import json

import pytest

from accounts import constants as perms
from personalization.audiences.models import Audience, AudienceMembership
from personalization.profiles.models import Identity, IdentityNamespace, Profile
from tests.edge.conftest import Scenario
from tests.factories import (
    AudienceFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    ProfileFactory,
    ProfileFieldFactory,
)

pytestmark = pytest.mark.django_db

GOLD = {"field": "loyalty.status", "op": "equals", "value": "gold"}


@pytest.fixture
def schema(sandbox):
    IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    IdentityNamespaceFactory(sandbox=sandbox, code="Email")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.points", field_type="number")
    ProfileFieldFactory(sandbox=sandbox, path="person.birthDate", field_type="date")
    return sandbox


@pytest.fixture
def writer(user, schema, grant):
    # View Segments too: the answers name the audiences whose memberships changed.
    grant(user, schema, perms.VIEW_PROFILES, perms.MANAGE_PROFILES, perms.VIEW_SEGMENTS)
    return user


def send(client, method, path, body, **query):
    url = "/api/v1/profiles/%s/" % path
    if query:
        url += "?" + "&".join("%s=%s" % item for item in query.items())
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def test_put_creates_a_profile_with_its_identity_as_primary(user_client, writer):
    response = send(
        user_client, "put", "Email/ada@example.com", {"sandbox": "alpha", "attributes": {"loyalty": {"points": 7}}}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["attributes"] == {"loyalty": {"points": 7}}
    assert body["identities"] == [{"namespace": "Email", "value": "ada@example.com", "primary": True}]
    assert body["transitions"] == []


def test_put_replaces_and_patch_merges_the_attributes(user_client, writer):
    start = {"sandbox": "alpha", "attributes": {"loyalty": {"status": "gold", "points": 5}, "note": "x"}}
    send(user_client, "put", "Email/ada@example.com", start)

    patched = send(
        user_client,
        "patch",
        "Email/ada@example.com",
        {"attributes": {"loyalty": {"points": 9}, "note": None}},
        sandbox="alpha",
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["attributes"] == {"loyalty": {"status": "gold", "points": 9}}

    replaced = send(
        user_client, "put", "Email/ada@example.com", {"sandbox": "alpha", "attributes": {"loyalty": {"points": 1}}}
    )
    assert replaced.json()["attributes"] == {"loyalty": {"points": 1}}
    assert Profile.objects.count() == 1


def test_identities_in_the_body_are_added_and_may_take_the_primary_mark(user_client, writer, schema):
    send(user_client, "put", "Email/ada@example.com", {"sandbox": "alpha", "attributes": {}})

    response = send(
        user_client,
        "patch",
        "Email/ada@example.com",
        {"sandbox": "alpha", "identities": [{"namespace": "ECID", "id": "1" * 38, "primary": True}]},
    )

    assert response.status_code == 200, response.content
    assert sorted((i["namespace"], i["primary"]) for i in response.json()["identities"]) == [
        ("ECID", True),
        ("Email", False),
    ]


def test_an_unknown_namespace_is_named_in_the_400(user_client, writer):
    in_path = send(user_client, "put", "email/ada@example.com", {"sandbox": "alpha", "attributes": {}})
    in_body = send(
        user_client,
        "put",
        "Email/ada@example.com",
        {"sandbox": "alpha", "attributes": {}, "identities": [{"namespace": "CRM", "id": "42"}]},
    )

    assert in_path.status_code == 400
    assert in_path.json()["namespace"] == [
        "No identity namespace has the code email in the sandbox alpha; codes are case-sensitive. Known: ECID, Email."
    ]
    assert in_body.status_code == 400
    assert "No identity namespace has the code CRM" in in_body.json()["identities[0].namespace"][0]
    assert not Profile.objects.exists()


def test_invalid_identities_are_refused_and_nothing_is_written(user_client, writer, schema):
    email = IdentityNamespace.objects.get(sandbox=schema, code="Email")
    other = IdentityFactory(profile=ProfileFactory(sandbox=schema), namespace=email, value="bob@example.com").profile

    blank = send(
        user_client,
        "put",
        "Email/ada@example.com",
        {"sandbox": "alpha", "attributes": {}, "identities": [{"namespace": "ECID", "id": " "}]},
    )
    taken = send(
        user_client,
        "put",
        "ECID/%s" % ("2" * 38),
        {"sandbox": "alpha", "attributes": {}, "identities": [{"namespace": "Email", "id": "bob@example.com"}]},
    )
    two_primaries = send(
        user_client,
        "put",
        "Email/ada@example.com",
        {
            "sandbox": "alpha",
            "attributes": {},
            "identities": [
                {"namespace": "ECID", "id": "3" * 38, "primary": True},
                {"namespace": "ECID", "id": "4" * 38, "primary": True},
            ],
        },
    )

    assert blank.json() == {"identities[0].id": ["The identity is empty; fill it in."]}
    assert taken.json() == {
        "identities[0]": ["Email:bob@example.com belongs to another profile; profiles are not merged."]
    }
    assert two_primaries.json() == {"identities": ["Mark at most one identity as primary."]}
    assert list(Profile.objects.all()) == [other]
    assert Identity.objects.count() == 1


@pytest.mark.parametrize(
    "path, identities, field, message",
    [
        ("ECID/12345", [], "id", "This is not a valid ECID identity: an ECID is exactly 38 digits."),
        (
            "Email/ada%E2%80%8B@example.com",
            [],
            "id",
            "The identity contains an invisible or control character, U+200B ZERO WIDTH SPACE at position 4; "
            "remove it (it often comes from copying a value out of a document or spreadsheet).",
        ),
        (
            "Email/ada@example.com",
            [{"namespace": "ECID", "id": "1" * 38 + "\u00a0"}],
            "identities[0].id",
            "This is not a valid ECID identity: an ECID is exactly 38 digits.",
        ),
        (
            "Email/ada@example.com",
            [{"namespace": "Email", "id": "ada@example.com\u2028"}],
            "identities[0].id",
            "The identity contains an invisible or control character, U+2028 LINE SEPARATOR at position 16; "
            "remove it (it often comes from copying a value out of a document or spreadsheet).",
        ),
    ],
)
def test_an_identity_no_website_could_send_is_refused_on_its_field(
    user_client, writer, path, identities, field, message
):
    response = send(user_client, "put", path, {"sandbox": "alpha", "attributes": {}, "identities": identities})

    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert not Profile.objects.exists() and not Identity.objects.exists()


def test_values_that_do_not_fit_the_schema_are_refused_on_their_path(user_client, writer):
    response = send(
        user_client,
        "put",
        "Email/ada@example.com",
        {"sandbox": "alpha", "attributes": {"loyalty": {"points": "100"}, "person": {"birthDate": "2024-02-30"}}},
    )

    assert response.status_code == 400
    assert response.json() == {
        "attributes.loyalty.points": ['loyalty.points is a number field; send a number or null, not "100".'],
        "attributes.person.birthDate": [
            'person.birthDate is a date field; send a date (YYYY-MM-DD) or an ISO date-time or null, not "2024-02-30".'
        ],
    }


def test_the_sandbox_is_required_and_must_be_visible(user_client, writer, other_sandbox):
    missing = send(user_client, "put", "Email/ada@example.com", {"attributes": {}})
    unseen = send(user_client, "put", "Email/ada@example.com", {"sandbox": "beta", "attributes": {}})

    assert missing.status_code == 400 and "sandbox" in missing.json()
    assert unseen.json() == {"sandbox": ["No sandbox named beta is visible to you."]}


def test_viewing_profiles_is_not_enough_to_write_them(client, user, schema, grant):
    grant(user, schema, perms.VIEW_PROFILES)
    client.force_login(user)

    response = send(client, "put", "Email/ada@example.com", {"sandbox": "alpha", "attributes": {}})

    assert response.status_code == 403
    assert not Profile.objects.exists()


def test_anonymous_callers_are_refused(client, schema):
    assert send(client, "put", "Email/ada@example.com", {"sandbox": "alpha", "attributes": {}}).status_code in (
        401,
        403,
    )


#
# Streaming evaluation
#


def test_streaming_and_edge_audiences_are_re_evaluated_and_transitions_recorded(user_client, writer, schema):
    streaming = AudienceFactory(sandbox=schema, name="Gold", rule=GOLD, evaluation="streaming")
    edge = AudienceFactory(
        sandbox=schema,
        name="Big spenders",
        rule={"field": "loyalty.points", "op": "gte", "value": 1000},
        evaluation="edge",
    )
    batch = AudienceFactory(sandbox=schema, name="Gold (daily)", rule=GOLD, evaluation="batch")
    AudienceFactory(sandbox=schema, name="Gold draft", rule=GOLD, evaluation="streaming", status=Audience.Status.DRAFT)

    entered = send(
        user_client,
        "put",
        "Email/ada@example.com",
        {"sandbox": "alpha", "attributes": {"loyalty": {"status": "gold", "points": 5}}},
    )
    assert entered.json()["transitions"] == [
        {"audience": str(streaming.pk), "name": "Gold", "from": None, "to": "realized"}
    ]
    assert [m["audience_name"] for m in entered.json()["memberships"]] == ["Gold"]

    moved = send(
        user_client,
        "patch",
        "Email/ada@example.com",
        {"sandbox": "alpha", "attributes": {"loyalty": {"status": "silver", "points": 1000}}},
    )
    assert moved.json()["transitions"] == [
        {"audience": str(edge.pk), "name": "Big spenders", "from": None, "to": "realized"},
        {"audience": str(streaming.pk), "name": "Gold", "from": "realized", "to": "exited"},
    ]
    back = send(
        user_client,
        "patch",
        "Email/ada@example.com",
        {"sandbox": "alpha", "attributes": {"loyalty": {"status": "gold"}}},
    )
    assert back.json()["transitions"] == [
        {"audience": str(streaming.pk), "name": "Gold", "from": "exited", "to": "realized"}
    ]
    assert not AudienceMembership.objects.filter(audience=batch).exists()
    streaming.refresh_from_db()
    assert streaming.profile_count == 1


def test_an_audience_including_another_sees_its_new_membership_in_the_same_request(user_client, writer, schema):
    gold = AudienceFactory(sandbox=schema, name="Gold", rule=GOLD, evaluation="streaming")
    AudienceFactory(sandbox=schema, name="A: gold fans", rule={"in_audience": str(gold.pk)}, evaluation="streaming")

    response = send(
        user_client, "put", "Email/ada@example.com", {"sandbox": "alpha", "attributes": {"loyalty": {"status": "gold"}}}
    )

    assert sorted(t["name"] for t in response.json()["transitions"]) == ["A: gold fans", "Gold"]


#
# The lookup reflects the change at once
#


@pytest.fixture
def shop(db, client, grant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        built = Scenario(client, grant)
        Audience.objects.filter(pk=built.gold.pk).update(rule=GOLD, evaluation="streaming")
        grant(built.admin, built.sandbox, perms.VIEW_PROFILES, perms.MANAGE_PROFILES)
    return built


def lookup_segments(shop):
    return {segment["id"] for segment in shop.entry(shop.lookup(), "personalizationAlias")["segments"]}


def test_the_next_lookup_reflects_a_profile_update(shop, django_capture_on_commit_callbacks):
    assert str(shop.gold.pk) in lookup_segments(shop)  # the projection is now cached in the edge store
    shop.client.force_login(shop.admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = send(
            shop.client,
            "patch",
            "Email/ada@example.com",
            {"sandbox": "shop", "attributes": {"loyalty": {"status": "silver"}}},
        )
    assert response.json()["transitions"][0]["to"] == "exited"
    assert str(shop.gold.pk) not in lookup_segments(shop)

    with django_capture_on_commit_callbacks(execute=True):
        send(
            shop.client,
            "patch",
            "Email/ada@example.com",
            {"sandbox": "shop", "attributes": {"loyalty": {"status": "gold"}}},
        )
    assert str(shop.gold.pk) in lookup_segments(shop)


def test_a_patch_is_checked_on_what_it_sends_so_old_data_never_blocks_it(user_client, writer, schema):
    email = IdentityNamespace.objects.get(sandbox=schema, code="Email")
    old = ProfileFactory(sandbox=schema, attributes={"loyalty": {"points": "many"}})
    IdentityFactory(profile=old, namespace=email, value="ada@example.com")

    response = send(user_client, "patch", "Email/ada@example.com", {"sandbox": "alpha", "attributes": {"note": "hi"}})

    assert response.status_code == 200, response.content
    assert response.json()["attributes"] == {"loyalty": {"points": "many"}, "note": "hi"}
