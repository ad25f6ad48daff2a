import datetime
import hashlib

import pytest

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts import constants as perms
from accounts.models import PersonalToken
from accounts.services import personal_token_create, personal_token_revoke, role_create
from tests.factories import DatastreamFactory, SandboxFactory, UserFactory
from tests.utils.permissions import APIViewTestCases

pytestmark = pytest.mark.django_db

SANDBOXES_URL = reverse("api:sandbox-list")
ROLES_URL = reverse("api:role-list")
TOKENS_URL = reverse("api:token-list")
DATASTREAMS_URL = reverse("api:datastream-list")


def token_header(plaintext):
    return {"HTTP_AUTHORIZATION": "Token %s" % plaintext}


#
# Sandboxes
#


def test_sandboxes_lists_only_those_where_the_user_holds_a_permission_with_what_it_grants(
    user_client, user, sandbox, other_sandbox, grant
):
    # given
    grant(user, sandbox, perms.VIEW_DESTINATIONS, perms.VIEW_PROFILES)
    # when
    body = user_client.get(SANDBOXES_URL).json()
    # then
    assert body["results"] == [
        {
            "id": sandbox.pk,
            "name": "alpha",
            "title": "Alpha",
            "kind": "development",
            "permissions": ["view_destinations", "view_profiles"],
        }
    ]


def test_a_user_without_roles_sees_no_sandboxes(user_client, sandbox):
    response = user_client.get(SANDBOXES_URL)

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_sandbox_without_any_permission_is_not_found(user_client, user, sandbox, other_sandbox, grant):
    grant(user, sandbox, perms.VIEW_PROFILES)

    assert user_client.get(reverse("api:sandbox-detail", args=[other_sandbox.pk])).status_code == 404
    assert user_client.get(reverse("api:sandbox-detail", args=[sandbox.pk])).status_code == 200


def test_sandboxes_refuse_anonymous_callers_with_401(client, sandbox):
    response = client.get(SANDBOXES_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


#
# Roles
#


class TestRoleEndpoints(APIViewTestCases.ListView, APIViewTestCases.RetrieveView):
    basename = "role"
    view_permission = perms.MANAGE_ROLES

    def make_object(self, sandbox):
        return role_create(
            name="Marketers in %s" % sandbox.name, permissions=[perms.VIEW_SEGMENTS], sandboxes=[sandbox]
        )


def test_roles_are_visible_only_to_users_who_manage_roles(user_client, user, sandbox, grant):
    # given
    grant(user, sandbox, *sorted(perms.SANDBOX_PERMISSION_CODENAMES - {perms.MANAGE_ROLES}))
    # when
    response = user_client.get(ROLES_URL)
    # then
    assert response.status_code == 403


def test_a_role_spanning_two_sandboxes_is_listed_once_with_its_sandboxes_and_members(
    user_client, user, sandbox, other_sandbox, grant
):
    # given
    grant(user, sandbox, perms.MANAGE_ROLES)
    analyst = UserFactory(username="analyst")
    role_create(name="Analysts", permissions=[perms.VIEW_PROFILES], users=[analyst], sandboxes=[sandbox, other_sandbox])
    # when
    results = user_client.get(ROLES_URL, {"limit": 100}).json()["results"]
    # then
    analysts = [item for item in results if item["name"] == "Analysts"]
    assert analysts == [
        {
            "id": analysts[0]["id"],
            "name": "Analysts",
            "description": "",
            "permissions": ["view_profiles"],
            "sandboxes": ["alpha", "beta"],
            "users": ["analyst"],
        }
    ]


def test_roles_are_read_only(user_client, user, sandbox, grant):
    grant(user, sandbox, perms.MANAGE_ROLES)

    response = user_client.post(ROLES_URL, {"name": "New"}, content_type="application/json")

    assert response.status_code == 405


#
# Personal tokens
#


def test_creating_a_token_shows_the_plaintext_once_and_stores_only_its_digest(user_client, user):
    # when
    response = user_client.post(TOKENS_URL, {"name": "CI pipeline"}, content_type="application/json")
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    plaintext = body["token"]
    token = PersonalToken.objects.get(pk=body["id"])
    assert token.user == user
    assert token.digest == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.startswith(token.prefix + ".")
    stored = [str(value) for value in PersonalToken.objects.filter(pk=token.pk).values().get().values()]
    assert plaintext not in stored
    assert "token" not in user_client.get(TOKENS_URL).json()["results"][0]
    assert "token" not in user_client.get(reverse("api:token-detail", args=[token.pk])).json()


def test_a_valid_token_acts_with_its_users_permissions(client, user, sandbox, other_sandbox, grant):
    # given
    grant(user, sandbox, perms.VIEW_DATASTREAMS)
    mine = DatastreamFactory(sandbox=sandbox)
    DatastreamFactory(sandbox=other_sandbox)
    _token, plaintext = personal_token_create(user=user, name="script")
    # when
    response = client.get(DATASTREAMS_URL, **token_header(plaintext))
    # then
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(mine.pk)]


def test_a_token_records_when_it_was_last_used(client, user):
    token, plaintext = personal_token_create(user=user, name="script")

    client.get(SANDBOXES_URL, **token_header(plaintext))

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_token_is_refused_with_401(client, user):
    token, plaintext = personal_token_create(user=user, name="script")
    personal_token_revoke(token=token)

    response = client.get(SANDBOXES_URL, **token_header(plaintext))

    assert response.status_code == 401
    assert "revoked or expired" in response.json()["detail"]


def test_an_expired_token_is_refused_with_401(client, user):
    _token, plaintext = personal_token_create(
        user=user, name="script", expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )

    assert client.get(SANDBOXES_URL, **token_header(plaintext)).status_code == 401


def test_a_wrong_secret_for_a_known_prefix_is_refused_with_401(client, user):
    token, _plaintext = personal_token_create(user=user, name="script")

    assert client.get(SANDBOXES_URL, **token_header("%s.guessed" % token.prefix)).status_code == 401


def test_deleting_a_token_revokes_it_and_it_stops_working(user_client, client, user):
    # given
    token, plaintext = personal_token_create(user=user, name="script")
    # when
    response = user_client.delete(reverse("api:token-detail", args=[token.pk]))
    # then
    assert response.status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None
    listed = user_client.get(TOKENS_URL).json()["results"][0]
    assert listed["active"] is False
    user_client.logout()
    assert client.get(SANDBOXES_URL, **token_header(plaintext)).status_code == 401


def test_other_users_tokens_are_not_found(user_client):
    someone_else = UserFactory(username="someone")
    token, _plaintext = personal_token_create(user=someone_else, name="theirs")

    assert user_client.get(TOKENS_URL).json()["results"] == []
    assert user_client.delete(reverse("api:token-detail", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_token_cannot_create_further_tokens(client, user):
    # given
    _token, plaintext = personal_token_create(user=user, name="script")
    # when
    response = client.post(TOKENS_URL, {"name": "copy"}, content_type="application/json", **token_header(plaintext))
    # then
    assert response.status_code == 403
    assert PersonalToken.objects.count() == 1


def test_a_token_expiring_in_the_past_is_refused_on_expires_at(user_client):
    response = user_client.post(
        TOKENS_URL, {"name": "late", "expires_at": "2000-01-01T00:00:00Z"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "future" in response.json()["expires_at"][0]
    assert not PersonalToken.objects.exists()


#
# OpenAPI
#


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))

    schema = (tmp_path / "schema.yml").read_text()
    assert "/api/v1/destinations/{id}/" in schema
    assert "personalToken" in schema


def test_the_schema_and_swagger_ui_are_served_to_signed_in_users(user_client):
    SandboxFactory(name="alpha")

    assert user_client.get(reverse("api-schema")).status_code == 200
    assert user_client.get(reverse("api-docs")).status_code == 200
