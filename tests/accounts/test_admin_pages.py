"""The Roles and Users pages: what a role manager can do, and what nobody may do (lock the admins out)."""

import re

import pytest

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import constants as perms
from accounts.models import Role
from accounts.permissions import has_sandbox_permission
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(grant, sandbox):
    admin = UserFactory(username="alice-admin")
    grant(admin, sandbox, perms.MANAGE_ROLES)
    return admin


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def test_the_roles_page_groups_permissions_by_the_products_categories_with_one_line_each(admin_client):
    response = admin_client.get(reverse("accounts:role_create"))

    html = response.content.decode()
    categories = [
        "Destinations",
        "Profile Management",
        "Data Collection",
        "Alerts",
        "Data Governance",
        "Administration",
    ]
    positions = [html.index("<legend>%s</legend>" % name) for name in categories]
    assert positions == sorted(positions)
    for codename, description in perms.PERMISSION_DESCRIPTIONS.items():
        assert 'value="%s"' % codename in html
        assert str(description).replace("'", "&#x27;") in html


def test_creating_a_role_grants_its_members_the_permissions_on_their_next_request(admin_client, sandbox):
    member = UserFactory(username="bob")

    response = admin_client.post(
        reverse("accounts:role_create"),
        {
            "name": "Campaign marketer",
            "permissions": [perms.VIEW_DESTINATIONS, perms.ACTIVATE_DESTINATIONS],
            "sandboxes": [sandbox.pk],
            "users": [member.pk],
        },
    )

    assert response.status_code == 302
    role = Role.objects.get(name="Campaign marketer")
    assert role.permissions == [perms.VIEW_DESTINATIONS, perms.ACTIVATE_DESTINATIONS]
    fresh = get_user_model().objects.get(pk=member.pk)
    assert has_sandbox_permission(fresh, perms.ACTIVATE_DESTINATIONS, sandbox)


def test_a_role_without_a_sandbox_is_refused_next_to_the_field(admin_client):
    response = admin_client.post(reverse("accounts:role_create"), {"name": "Nowhere", "permissions": []})

    assert response.status_code == 200
    assert "This field is required." in response.context["form"].errors["sandboxes"]
    assert not Role.objects.filter(name="Nowhere").exists()


def test_a_manager_can_only_choose_sandboxes_they_administer(admin_client, other_sandbox):
    response = admin_client.get(reverse("accounts:role_create"))

    assert other_sandbox not in response.context["form"].fields["sandboxes"].queryset


def test_editing_a_role_changes_what_its_member_sees_on_the_next_request(admin_client, client, grant, sandbox):
    member = UserFactory(username="bob")
    role = grant(member, sandbox, perms.VIEW_DATASTREAMS)
    member_client = type(client)()
    member_client.force_login(member)
    assert member_client.get(reverse("datastreams:datastream_list")).status_code == 200

    admin_client.post(
        reverse("accounts:role_edit", args=[role.pk]),
        {"name": role.name, "permissions": [perms.VIEW_PROFILES], "sandboxes": [sandbox.pk], "users": [member.pk]},
    )

    assert member_client.get(reverse("datastreams:datastream_list")).status_code == 403
    assert member_client.get(reverse("profiles:profile_list")).status_code == 200


def test_removing_the_last_manage_roles_from_a_sandbox_is_refused_with_a_message(admin_client, admin, sandbox):
    role = admin.roles.get()

    response = admin_client.post(
        reverse("accounts:role_edit", args=[role.pk]),
        {"name": role.name, "permissions": [perms.VIEW_PROFILES], "sandboxes": [sandbox.pk], "users": [admin.pk]},
    )

    assert response.status_code == 200
    assert "Nobody would be left who may manage roles in Alpha." in response.content.decode()
    role.refresh_from_db()
    assert role.permissions == [perms.MANAGE_ROLES]


def test_the_role_delete_page_names_the_users_who_lose_it_and_its_sandboxes(admin_client, grant, sandbox):
    role = grant(UserFactory(username="carol"), sandbox, perms.VIEW_SEGMENTS)

    page = admin_client.get(reverse("accounts:role_delete", args=[role.pk])).content.decode()

    assert "Delete the role “%s”?" % role.name in page
    assert "<li>carol</li>" in page
    assert "<li>%s</li>" % sandbox.title in page
    assert reverse("accounts:role_edit", args=[role.pk]) in page  # Cancel goes back to the role


def test_deleting_the_role_holding_the_last_manage_roles_is_refused(admin_client, admin):
    role = admin.roles.get()

    response = admin_client.post(reverse("accounts:role_delete", args=[role.pk]))

    assert "It was not deleted." in response.content.decode()
    assert "Nobody would be left who may manage roles in Alpha." in response.content.decode()
    assert Role.objects.filter(pk=role.pk).exists()


def test_deleting_a_role_is_allowed_when_another_manager_remains(admin_client, grant, sandbox):
    role = grant(UserFactory(username="carol"), sandbox, perms.MANAGE_ROLES)

    response = admin_client.post(reverse("accounts:role_delete", args=[role.pk]))

    assert response.status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists()


def test_a_role_reaching_another_sandbox_is_listed_but_cannot_be_edited(admin_client, grant, sandbox, other_sandbox):
    role = grant(UserFactory(username="dave"), [sandbox, other_sandbox], perms.VIEW_PROFILES)

    listing = admin_client.get(reverse("accounts:role_list"))

    assert role in listing.context["object_list"]
    assert reverse("accounts:role_edit", args=[role.pk]) not in listing.content.decode()
    assert admin_client.get(reverse("accounts:role_edit", args=[role.pk])).status_code == 403


def test_a_role_only_in_a_sandbox_the_manager_does_not_administer_is_not_found(admin_client, grant, other_sandbox):
    role = grant(UserFactory(username="erin"), other_sandbox, perms.VIEW_PROFILES)

    assert admin_client.get(reverse("accounts:role_edit", args=[role.pk])).status_code == 404


def test_creating_a_user_with_a_weak_password_is_refused_by_djangos_validators(admin_client):
    response = admin_client.post(
        reverse("accounts:user_create"),
        {"username": "frank", "email": "", "how": "password", "password1": "12345678", "password2": "12345678"},
    )

    assert response.status_code == 200
    assert any("too common" in error for error in response.context["form"].errors["password1"])
    assert not get_user_model().objects.filter(username="frank").exists()


def test_creating_a_user_with_a_password_and_a_role(admin_client, admin, client):
    role = admin.roles.get()

    response = admin_client.post(
        reverse("accounts:user_create"),
        {
            "username": "grace",
            "how": "password",
            "password1": "purple-otter-42",
            "password2": "purple-otter-42",
            "roles": [role.pk],
        },
    )

    grace = get_user_model().objects.get(username="grace")
    assert response["Location"] == reverse("accounts:user_detail", args=[grace.pk])
    assert grace.check_password("purple-otter-42")
    assert list(grace.roles.all()) == [role]


def test_inviting_a_user_emails_a_set_password_link_that_lets_them_sign_in(admin_client, client):
    admin_client.post(
        reverse("accounts:user_create"), {"username": "heidi", "email": "heidi@example.com", "how": "invite"}
    )

    heidi = get_user_model().objects.get(username="heidi")
    assert not heidi.has_usable_password()
    assert mail.outbox[0].to == ["heidi@example.com"]
    link = re.search(r"http://testserver(/accounts/set-password/\S+)", mail.outbox[0].body).group(1)
    page = client.get(link, follow=True)
    assert page.context["validlink"]
    client.post(page.redirect_chain[-1][0], {"new_password1": "purple-otter-42", "new_password2": "purple-otter-42"})
    heidi.refresh_from_db()
    assert heidi.check_password("purple-otter-42")
    assert client.get(link, follow=True).context["validlink"] is False


def test_an_invitation_needs_an_email_address(admin_client):
    response = admin_client.post(reverse("accounts:user_create"), {"username": "ivan", "how": "invite"})

    assert response.context["form"].errors["email"] == ["An invitation needs an email address."]


def test_the_user_page_shows_each_effective_permission_with_the_role_granting_it(admin_client, grant, sandbox):
    judy = UserFactory(username="judy")
    grant(judy, sandbox, perms.VIEW_PROFILES)
    second = grant(judy, sandbox, perms.VIEW_PROFILES, perms.VIEW_SEGMENTS)

    response = admin_client.get(reverse("accounts:user_detail", args=[judy.pk]))

    [row] = response.context["effective"]
    assert row["sandbox"] == sandbox
    by_label = {item["label"]: [role.name for role in item["roles"]] for item in row["permissions"]}
    assert by_label["View Segments"] == [second.name]
    assert len(by_label["View Profiles"]) == 2


def test_deactivating_a_user_stops_their_session_and_reactivating_brings_them_back(admin_client, grant, sandbox):
    kim = UserFactory(username="kim")
    grant(kim, sandbox, perms.VIEW_DATASTREAMS)
    client = Client()
    client.force_login(kim)

    admin_client.post(reverse("accounts:user_active", args=[kim.pk]), {"active": "0"})

    assert client.get(reverse("datastreams:datastream_list")).status_code == 302
    admin_client.post(reverse("accounts:user_active", args=[kim.pk]), {"active": "1"})
    kim.refresh_from_db()
    assert kim.is_active


def test_deactivating_another_role_manager_is_allowed_while_one_remains(admin, grant, sandbox):
    other_admin = UserFactory(username="leo")
    grant(other_admin, sandbox, perms.MANAGE_ROLES)
    leo_client = Client()
    leo_client.force_login(other_admin)

    response = leo_client.post(reverse("accounts:user_active", args=[admin.pk]), {"active": "0"}, follow=True)

    assert "alice-admin was deactivated" in response.content.decode()
    admin.refresh_from_db()
    assert not admin.is_active


def test_deactivating_the_only_role_manager_left_is_refused(admin, grant, sandbox):
    from django.core.exceptions import ValidationError

    from accounts.services import user_set_active

    superuser = UserFactory(username="root", is_superuser=True)

    with pytest.raises(ValidationError) as excinfo:
        user_set_active(user=superuser, target=admin, active=False)

    assert "Nobody would be left who may manage roles in Alpha." in excinfo.value.messages[0]
    admin.refresh_from_db()
    assert admin.is_active


def test_nobody_can_deactivate_themselves(admin_client, admin):
    response = admin_client.post(reverse("accounts:user_active", args=[admin.pk]), {"active": "0"}, follow=True)

    assert "You cannot deactivate yourself" in response.content.decode()


def test_users_only_in_another_sandbox_are_not_found_and_not_listed(admin_client, grant, other_sandbox):
    stranger = UserFactory(username="mallory")
    grant(stranger, other_sandbox, perms.VIEW_PROFILES)

    assert admin_client.get(reverse("accounts:user_detail", args=[stranger.pk])).status_code == 404
    assert stranger not in admin_client.get(reverse("accounts:user_list")).context["object_list"]


def test_role_and_user_pages_refuse_users_without_manage_roles(user_client, grant, user, sandbox):
    grant(user, sandbox, perms.VIEW_PROFILES)

    for name in ("accounts:role_list", "accounts:role_create", "accounts:user_list", "accounts:user_create"):
        assert user_client.get(reverse(name)).status_code == 403


def test_the_navigation_shows_roles_and_users_only_to_role_managers(admin_client, grant, user, sandbox):
    grant(user, sandbox, perms.VIEW_PROFILES)
    user_client = Client()
    user_client.force_login(user)

    assert reverse("accounts:role_list") in admin_client.get("/").content.decode()
    assert reverse("accounts:role_list") not in user_client.get("/").content.decode()
