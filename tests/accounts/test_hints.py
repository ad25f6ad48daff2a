"""Where a button is hidden for lack of a permission, the page says which permission it needs and who grants it."""

import pytest

from django.urls import reverse

from accounts import constants as perms
from accounts.hints import missing_permission
from accounts.permissions import CAN_ACTIVATE, CAN_CONNECT_DESTINATIONS, CAN_IMPORT_AUDIENCES
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(sandbox, grant):
    admin = UserFactory(username="grace")
    grant(admin, sandbox, perms.MANAGE_ROLES)
    return admin


def test_the_hint_names_exactly_the_missing_permissions_and_who_manages_roles(user, sandbox, grant, admin):
    grant(user, sandbox, perms.VIEW_SEGMENTS)

    hint = missing_permission(user, CAN_IMPORT_AUDIENCES, sandbox)

    assert hint.missing == ("Manage Segments", "Import Audience")
    assert hint.granters == ("grace",)
    assert str(hint) == (
        "“Import an audience from a CSV file” needs Manage Segments + Import Audience in the sandbox Alpha, which "
        "your roles do not give you. Ask grace (Manage Roles in this sandbox) to add it to one of your roles."
    )


def test_a_rule_with_alternatives_names_them_as_a_choice(user, sandbox, grant, admin):
    grant(user, sandbox, perms.VIEW_DESTINATIONS, perms.VIEW_PROFILES, perms.VIEW_SEGMENTS)

    hint = missing_permission(user, CAN_ACTIVATE, sandbox)

    assert hint.missing == ()
    assert hint.needs == "one of Activate Destinations or Activate Segments without Mapping"


def test_there_is_no_hint_when_the_user_may_do_it(user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_DESTINATIONS, perms.MANAGE_DESTINATIONS)

    assert missing_permission(user, CAN_CONNECT_DESTINATIONS, sandbox) is None


def test_a_sandbox_without_role_managers_points_to_the_administrator(user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_DESTINATIONS)

    hint = missing_permission(user, CAN_CONNECT_DESTINATIONS, sandbox)

    assert hint.granters == ()
    assert "ask your administrator" in hint.ask


def test_role_managers_of_other_sandboxes_and_deactivated_ones_are_not_named(
    user, sandbox, other_sandbox, grant, admin
):
    elsewhere = UserFactory(username="ada")
    grant(elsewhere, other_sandbox, perms.MANAGE_ROLES)
    gone = UserFactory(username="alan", is_active=False)
    grant(gone, sandbox, perms.MANAGE_ROLES)
    grant(user, sandbox, perms.VIEW_DESTINATIONS)

    assert missing_permission(user, CAN_CONNECT_DESTINATIONS, sandbox).granters == ("grace",)


def test_the_catalog_says_why_a_marketer_sees_no_set_up_button(user_client, user, sandbox, grant, admin):
    grant(user, sandbox, perms.VIEW_DESTINATIONS)

    page = user_client.get(reverse("destinations:destination_catalog")).content.decode()

    assert ">Set up<" not in page
    assert "“Connect, change and delete destinations” needs Manage Destinations in the sandbox Alpha" in page
    assert "Ask grace (Manage Roles in this sandbox)" in page


def test_the_catalog_shows_the_button_and_no_hint_to_whoever_may_set_one_up(user_client, user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_DESTINATIONS, perms.MANAGE_DESTINATIONS)

    page = user_client.get(reverse("destinations:destination_catalog")).content.decode()

    assert "Set up" in page
    assert "Connect, change and delete destinations” needs" not in page


def test_a_list_whose_create_button_is_hidden_says_which_permission_it_needs(user_client, user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_PROFILES)

    page = user_client.get(reverse("profiles:profilefield_list")).content.decode()

    assert "New profile field" not in page
    assert "“Change profile fields, namespaces and profiles” needs Manage Profiles in the sandbox Alpha" in page


def test_the_audience_list_says_what_importing_needs(user_client, user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_SEGMENTS, perms.MANAGE_SEGMENTS)

    page = user_client.get(reverse("audiences:audience_list")).content.decode()

    assert "Create audience" in page and "Import audience</a>" not in page
    assert "“Import an audience from a CSV file” needs Import Audience in the sandbox Alpha" in page


def test_the_hints_of_one_page_look_up_who_may_grant_once(user, sandbox, grant, admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.hints import MissingHere

    grant(user, sandbox, perms.VIEW_SEGMENTS)
    hints = MissingHere(user, sandbox)
    first = hints["CAN_ACTIVATE"]

    with CaptureQueriesContext(connection) as queries:
        second = hints["CAN_IMPORT_AUDIENCES"]
        again = hints["CAN_ACTIVATE"]

    assert first.granters == second.granters == ("grace",)
    assert again is first
    assert not [query for query in queries.captured_queries if "accounts_role" in query["sql"]]
