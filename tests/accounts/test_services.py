"""Account services: roles are created whole or not at all; personal tokens hand out their plaintext once."""

import pytest

from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError

from accounts.constants import MANAGE_DATASTREAMS, MANAGE_DESTINATIONS, VIEW_DATASTREAMS, VIEW_DESTINATIONS
from accounts.models import ApiCredential, PersonalToken, Role, SandboxGroupObjectPermission
from accounts.permissions import has_sandbox_permission
from accounts.services import (
    api_credential_create,
    api_credential_revoke,
    personal_token_create,
    personal_token_revoke,
    role_create,
    role_update,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_creating_a_role_with_an_unknown_codename_writes_nothing(sandbox, user):
    # given
    groups_before = Group.objects.count()
    # when
    with pytest.raises(ValidationError) as excinfo:
        role_create(name="Marketers", permissions=[VIEW_DESTINATIONS, "launch"], users=[user], sandboxes=[sandbox])
    # then
    assert "Unknown permission(s): launch." in excinfo.value.message_dict["permissions"][0]
    assert not Role.objects.exists()
    assert Group.objects.count() == groups_before
    assert not SandboxGroupObjectPermission.objects.exists()


def test_creating_a_role_with_a_taken_name_is_refused_and_the_first_role_keeps_its_grants(sandbox, user):
    # given
    first = role_create(name="Marketers", permissions=[VIEW_DESTINATIONS], users=[user], sandboxes=[sandbox])
    # when
    with pytest.raises(ValidationError) as excinfo:
        role_create(name="Marketers", permissions=[MANAGE_DESTINATIONS], sandboxes=[sandbox])
    # then
    assert excinfo.value.message_dict["name"] == ["Role with this Name already exists."]
    assert Role.objects.count() == 1
    first.refresh_from_db()
    assert first.permissions == [VIEW_DESTINATIONS]
    assert has_sandbox_permission(user, VIEW_DESTINATIONS, sandbox)
    assert not has_sandbox_permission(user, MANAGE_DESTINATIONS, sandbox)


def test_updating_a_role_with_an_unknown_codename_leaves_its_permissions_and_grants_alone(sandbox, user):
    # given
    role = role_create(name="Marketers", permissions=[VIEW_DESTINATIONS], users=[user], sandboxes=[sandbox])
    grants_before = set(SandboxGroupObjectPermission.objects.values_list("permission__codename", flat=True))
    # when
    with pytest.raises(ValidationError) as excinfo:
        role_update(role=role, permissions=[VIEW_DATASTREAMS, "teleport"])
    # then
    assert "Unknown permission(s): teleport." in excinfo.value.message_dict["permissions"][0]
    role.refresh_from_db()
    assert role.permissions == [VIEW_DESTINATIONS]
    assert set(SandboxGroupObjectPermission.objects.values_list("permission__codename", flat=True)) == grants_before


def test_a_new_personal_token_returns_a_plaintext_that_is_not_stored_but_matches():
    # when
    token, plaintext = personal_token_create(user=UserFactory(), name="deploy script")
    # then
    stored = PersonalToken.objects.get(pk=token.pk)
    assert plaintext not in (stored.prefix, stored.digest, stored.name)
    assert plaintext.split(".", 1)[1] not in stored.digest
    assert stored.matches(plaintext)
    assert stored.is_active


def test_a_revoked_personal_token_stops_being_active():
    token, _plaintext = personal_token_create(user=UserFactory(), name="deploy script")

    personal_token_revoke(token=token)

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not token.is_active


def test_a_datastream_manager_creates_an_api_credential_whose_secret_is_not_stored(sandbox, user, grant):
    # given
    grant(user, sandbox, VIEW_DATASTREAMS, MANAGE_DATASTREAMS)
    # when
    credential, secret = api_credential_create(user=user, sandbox=sandbox, name="Checkout server")
    # then
    stored = ApiCredential.objects.get(pk=credential.pk)
    assert secret not in (stored.client_id, stored.secret_digest, stored.name)
    assert stored.matches(secret)
    assert stored.created_by == user


def test_creating_an_api_credential_without_manage_datastreams_is_refused(sandbox, user, grant):
    grant(user, sandbox, VIEW_DATASTREAMS)

    with pytest.raises(PermissionDenied):
        api_credential_create(user=user, sandbox=sandbox, name="Checkout server")

    assert not ApiCredential.objects.exists()


def test_creating_an_api_credential_with_a_taken_name_is_refused(sandbox, user, grant):
    grant(user, sandbox, VIEW_DATASTREAMS, MANAGE_DATASTREAMS)
    api_credential_create(user=user, sandbox=sandbox, name="Checkout server")

    with pytest.raises(ValidationError) as excinfo:
        api_credential_create(user=user, sandbox=sandbox, name="Checkout server")

    assert "already has an API credential with this name" in excinfo.value.message_dict[NON_FIELD_ERRORS][0]
    assert ApiCredential.objects.count() == 1


def test_revoking_an_api_credential_needs_manage_datastreams(sandbox, user, grant):
    # given
    admin = UserFactory(username="admin", is_superuser=True)
    credential, _secret = api_credential_create(user=admin, sandbox=sandbox, name="Checkout server")
    grant(user, sandbox, VIEW_DATASTREAMS)
    # when
    with pytest.raises(PermissionDenied):
        api_credential_revoke(user=user, credential=credential)
    # then
    credential.refresh_from_db()
    assert credential.is_active


def test_a_revoked_api_credential_is_inactive(sandbox, user, grant):
    grant(user, sandbox, VIEW_DATASTREAMS, MANAGE_DATASTREAMS)
    credential, _secret = api_credential_create(user=user, sandbox=sandbox, name="Checkout server")

    api_credential_revoke(user=user, credential=credential)

    credential.refresh_from_db()
    assert not credential.is_active
