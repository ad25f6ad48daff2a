"""Model rules of accounts: sandboxes, roles (codenames validated) and personal tokens (hashed, expiring)."""

import datetime
import hashlib

import pytest

from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.constants import MANAGE_DESTINATIONS, SANDBOX_PERMISSION_CODENAMES, VIEW_DESTINATIONS
from accounts.models import AccessToken, ApiCredential, PersonalToken, Role, Sandbox, validate_permission_codenames
from tests.factories import SandboxFactory, UserFactory

pytestmark = pytest.mark.django_db


def _role(name="Editors", permissions=(VIEW_DESTINATIONS,)):
    return Role(name=name, permissions=list(permissions), group=Group.objects.create(name="role:%s" % name))


def _token(user, **fields):
    _plaintext, prefix, digest = PersonalToken.generate()
    return PersonalToken(user=user, name="ci", prefix=prefix, digest=digest, **fields)


# Sandbox


def test_a_sandbox_name_must_be_a_slug():
    with pytest.raises(ValidationError) as excinfo:
        Sandbox(name="my sandbox", title="Mine").full_clean()

    assert "name" in excinfo.value.message_dict


def test_two_sandboxes_cannot_share_a_name():
    SandboxFactory(name="prod")

    with pytest.raises(ValidationError) as excinfo:
        Sandbox(name="prod", title="Production again").full_clean()
    assert excinfo.value.message_dict["name"] == ["Sandbox with this Name already exists."]

    with pytest.raises(IntegrityError), transaction.atomic():
        Sandbox.objects.create(name="prod", title="Production again")


# Role permissions


def test_a_role_with_known_codenames_is_valid():
    _role(permissions=[VIEW_DESTINATIONS, MANAGE_DESTINATIONS]).full_clean()


def test_a_role_with_an_unknown_codename_is_refused_naming_it_and_the_valid_ones():
    # given
    role = _role(permissions=[VIEW_DESTINATIONS, "fly_rockets", "delete_everything"])
    # when
    with pytest.raises(ValidationError) as excinfo:
        role.full_clean()
    # then
    [message] = excinfo.value.message_dict["permissions"]
    assert message.startswith("Unknown permission(s): delete_everything, fly_rockets. Valid codenames: ")
    assert all(code in message for code in SANDBOX_PERMISSION_CODENAMES)


@pytest.mark.parametrize("value", ["view_destinations", {"view_destinations": True}, [1, 2], None])
def test_role_permissions_must_be_a_list_of_codenames(value):
    with pytest.raises(ValidationError) as excinfo:
        validate_permission_codenames(value)

    assert excinfo.value.messages == ["Permissions must be a list of permission codenames."]


def test_a_role_whose_permissions_are_not_a_list_says_so_rather_than_invalid_json():
    with pytest.raises(ValidationError) as excinfo:
        Role(name="Editors", permissions="view_destinations", group=Group.objects.create(name="g")).full_clean()

    assert excinfo.value.message_dict["permissions"] == ["Permissions must be a list of permission codenames."]


def test_a_global_model_permission_codename_is_not_a_sandbox_permission():
    with pytest.raises(ValidationError) as excinfo:
        validate_permission_codenames(["add_user"])

    assert "Unknown permission(s): add_user." in excinfo.value.messages[0]


def test_two_roles_cannot_share_a_name():
    _role(name="Editors").save()

    with pytest.raises(ValidationError) as excinfo:
        Role(name="Editors", permissions=[], group=Group.objects.create(name="other")).full_clean()
    assert excinfo.value.message_dict["name"] == ["Role with this Name already exists."]

    with pytest.raises(IntegrityError), transaction.atomic():
        Role.objects.create(name="Editors", permissions=[], group=Group.objects.create(name="third"))


def test_role_permission_labels_follow_the_product_wording():
    assert _role(permissions=[VIEW_DESTINATIONS, MANAGE_DESTINATIONS]).permission_labels == [
        "View Destinations",
        "Manage Destinations",
    ]


# Personal tokens


def test_a_generated_token_stores_only_its_prefix_and_a_sha256_digest():
    # when
    plaintext, prefix, digest = PersonalToken.generate()
    # then
    assert plaintext.startswith(prefix + ".")
    assert len(prefix) == PersonalToken.PREFIX_LENGTH
    assert digest == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.split(".", 1)[1] not in digest


def test_the_plaintext_of_a_saved_token_appears_in_no_column():
    # given
    plaintext, prefix, digest = PersonalToken.generate()
    PersonalToken.objects.create(user=UserFactory(), name="ci", prefix=prefix, digest=digest)
    secret = plaintext.split(".", 1)[1]
    # when
    [row] = PersonalToken.objects.values()
    # then
    assert all(secret not in str(value) for value in row.values())
    assert all(plaintext != value for value in row.values())


def test_a_token_matches_its_own_plaintext_and_nothing_else():
    plaintext, prefix, digest = PersonalToken.generate()
    token = PersonalToken(prefix=prefix, digest=digest)

    assert token.matches(plaintext)
    assert not token.matches(plaintext + "x")
    assert not token.matches(prefix + ".guess")
    assert not token.matches(PersonalToken.generate()[0])


def test_two_generated_tokens_differ():
    assert PersonalToken.generate()[0] != PersonalToken.generate()[0]


def test_token_prefixes_are_unique():
    user = UserFactory()
    first = _token(user)
    first.save()
    second = _token(user)
    second.prefix = first.prefix

    with pytest.raises(ValidationError) as excinfo:
        second.full_clean()
    assert "prefix" in excinfo.value.message_dict

    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


def test_a_token_prefix_must_be_lowercase_hex():
    token = _token(UserFactory())
    token.prefix = "NOTHEX!!"

    with pytest.raises(ValidationError) as excinfo:
        token.full_clean()

    assert "prefix" in excinfo.value.message_dict


def test_a_token_without_expiry_or_revocation_is_active():
    assert _token(UserFactory()).is_active


def test_a_token_expiring_in_the_future_is_active():
    assert _token(UserFactory(), expires_at=timezone.now() + datetime.timedelta(days=1)).is_active


def test_an_expired_token_is_inactive():
    assert not _token(UserFactory(), expires_at=timezone.now() - datetime.timedelta(seconds=1)).is_active


def test_a_revoked_token_is_inactive_even_before_it_expires():
    token = _token(UserFactory(), revoked_at=timezone.now(), expires_at=timezone.now() + datetime.timedelta(days=30))

    assert not token.is_active


# API credentials and their bearer tokens


def _credential(sandbox, name="Checkout server", **fields):
    client_id, _secret, digest = ApiCredential.generate()
    return ApiCredential(sandbox=sandbox, name=name, client_id=client_id, secret_digest=digest, **fields)


def test_two_api_credentials_in_one_sandbox_cannot_share_a_name(sandbox):
    _credential(sandbox).save()
    duplicate = _credential(sandbox)

    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "This sandbox already has an API credential with this name."
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_the_same_credential_name_is_fine_in_another_sandbox(sandbox, other_sandbox):
    _credential(sandbox).save()

    _credential(other_sandbox).full_clean()


def test_api_credential_client_ids_are_unique(sandbox):
    first = _credential(sandbox)
    first.save()
    second = _credential(sandbox, name="Other server")
    second.client_id = first.client_id

    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


def test_an_api_credential_stores_a_digest_that_matches_only_its_secret():
    client_id, secret, digest = ApiCredential.generate()
    credential = ApiCredential(client_id=client_id, secret_digest=digest)

    assert secret not in (client_id, digest)
    assert digest == hashlib.sha256(secret.encode()).hexdigest()
    assert credential.matches(secret)
    assert not credential.matches(secret + "x")
    assert not credential.matches(ApiCredential.generate()[1])


def test_an_api_credential_is_inactive_once_revoked_or_expired(sandbox):
    now = timezone.now()

    assert _credential(sandbox).is_active
    assert _credential(sandbox, expires_at=now + datetime.timedelta(days=1)).is_active
    assert not _credential(sandbox, expires_at=now - datetime.timedelta(seconds=1)).is_active
    assert not _credential(sandbox, revoked_at=now).is_active


def test_two_bearer_tokens_cannot_share_a_digest(sandbox):
    credential = _credential(sandbox)
    credential.save()
    expires_at = timezone.now() + datetime.timedelta(hours=1)
    AccessToken.objects.create(credential=credential, digest=AccessToken.digest_of("abc"), expires_at=expires_at)

    with pytest.raises(IntegrityError), transaction.atomic():
        AccessToken.objects.create(credential=credential, digest=AccessToken.digest_of("abc"), expires_at=expires_at)
