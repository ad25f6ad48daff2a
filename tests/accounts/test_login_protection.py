"""Sign-in protection: ten failures lock the account with a clear message; a role manager unlocks it."""

import pytest

from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts import constants as perms
from accounts.services import personal_token_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def _sign_in(client, username, password):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def test_ten_failed_sign_ins_lock_the_account_even_with_the_right_password_afterwards(client):
    UserFactory(username="nina")
    assert settings.AXES_FAILURE_LIMIT == 10

    for _attempt in range(9):
        assert "Please enter a correct username and password" in _sign_in(client, "nina", "wrong").content.decode()
    locked = _sign_in(client, "nina", "wrong")
    after = _sign_in(client, "nina", PASSWORD)

    assert locked.status_code == 429
    assert "Too many failed sign-ins: this account is locked for 30 minutes." in locked.content.decode()
    assert after.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failures_from_many_addresses_still_lock_the_account(client):
    UserFactory(username="petra")
    for number in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("accounts:login"), {"username": "petra", "password": "wrong"}, REMOTE_ADDR="10.1.0.%d" % number
        )

    after = client.post(reverse("accounts:login"), {"username": "petra", "password": PASSWORD}, REMOTE_ADDR="10.2.0.1")

    assert after.status_code == 429


def test_nine_failures_then_the_right_password_signs_in_and_forgets_the_failures(client):
    UserFactory(username="oscar")
    for _attempt in range(9):
        _sign_in(client, "oscar", "wrong")

    assert _sign_in(client, "oscar", PASSWORD).status_code == 302
    client.logout()
    for _attempt in range(9):
        _sign_in(client, "oscar", "wrong")
    assert _sign_in(client, "oscar", PASSWORD).status_code == 302


def test_a_locked_account_does_not_lock_other_accounts(client):
    UserFactory(username="pia")
    UserFactory(username="quinn")
    for _attempt in range(10):
        _sign_in(client, "pia", "wrong")

    assert _sign_in(client, "quinn", PASSWORD).status_code == 302


def test_a_role_manager_unlocks_a_locked_account_from_the_users_page(grant, sandbox):
    rita = UserFactory(username="rita")
    grant(rita, sandbox, perms.VIEW_PROFILES)
    admin = UserFactory(username="alice-admin")
    grant(admin, sandbox, perms.MANAGE_ROLES)
    visitor = Client()
    for _attempt in range(10):
        _sign_in(visitor, "rita", "wrong")
    admin_client = Client()
    admin_client.force_login(admin)

    listing = admin_client.get(reverse("accounts:user_list")).content.decode()
    page = admin_client.get(reverse("accounts:user_detail", args=[rita.pk])).content.decode()
    response = admin_client.post(reverse("accounts:user_unlock", args=[rita.pk]), follow=True)

    assert "Locked out" in listing
    assert "Unlock sign-in" in page
    assert "rita may sign in again." in response.content.decode()
    assert _sign_in(visitor, "rita", PASSWORD).status_code == 302


def test_personal_tokens_still_authenticate_the_api_with_the_lockout_backend_first(grant, sandbox):
    token_owner = UserFactory(username="sam")
    grant(token_owner, sandbox, perms.VIEW_DATASTREAMS)
    _token, plaintext = personal_token_create(user=token_owner, name="script")

    response = Client().get("/api/v1/datastreams/", HTTP_AUTHORIZATION="Token %s" % plaintext)

    assert response.status_code == 200


def test_sessions_expire_and_cookies_are_secure_unless_debug():
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SECURE is not settings.DEBUG
    assert settings.CSRF_COOKIE_SECURE is not settings.DEBUG
    assert len(settings.AUTH_PASSWORD_VALIDATORS) == 4
