import pytest

from django.contrib.auth.models import Permission

from accounts import constants as perms
from accounts.models import SandboxGroupObjectPermission
from accounts.permissions import has_sandbox_permission, restrict, sandboxes_visible_to
from accounts.services import role_update
from personalization.datastreams.models import Datastream
from personalization.destinations.models import AudienceActivation
from tests.factories import ActivationFactory, DatastreamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_restrict_returns_only_objects_in_sandboxes_where_the_user_holds_the_permission(
    user, sandbox, other_sandbox, grant
):
    # given
    mine = DatastreamFactory(sandbox=sandbox)
    DatastreamFactory(sandbox=other_sandbox)
    grant(user, sandbox, perms.VIEW_DATASTREAMS)
    # when
    visible = restrict(Datastream.objects.all(), user, perms.VIEW_DATASTREAMS)
    # then
    assert list(visible) == [mine]


def test_restrict_follows_the_parent_for_child_rows(user, sandbox, other_sandbox, grant):
    mine = ActivationFactory(destination__datastream__sandbox=sandbox)
    ActivationFactory(destination__datastream__sandbox=other_sandbox)
    grant(user, sandbox, perms.VIEW_DESTINATIONS)

    assert list(restrict(AudienceActivation.objects.all(), user, perms.VIEW_DESTINATIONS)) == [mine]


def test_a_permission_for_another_action_shows_nothing(user, sandbox, grant):
    DatastreamFactory(sandbox=sandbox)
    grant(user, sandbox, perms.VIEW_PROFILES)

    assert not restrict(Datastream.objects.all(), user, perms.VIEW_DATASTREAMS).exists()


def test_anonymous_users_see_nothing(sandbox):
    from django.contrib.auth.models import AnonymousUser

    DatastreamFactory(sandbox=sandbox)
    assert not restrict(Datastream.objects.all(), AnonymousUser(), perms.VIEW_DATASTREAMS).exists()


def test_superusers_see_every_sandbox(sandbox, other_sandbox):
    DatastreamFactory(sandbox=sandbox)
    DatastreamFactory(sandbox=other_sandbox)
    admin = UserFactory(username="root", is_superuser=True)

    assert restrict(Datastream.objects.all(), admin, perms.VIEW_DATASTREAMS).count() == 2


def test_roles_grant_object_permissions_on_sandboxes_never_global_ones(user, sandbox, grant):
    role = grant(user, sandbox, perms.VIEW_DESTINATIONS, perms.MANAGE_DESTINATIONS)

    assert user.has_perm("accounts.view_destinations", sandbox)
    assert not user.has_perm("accounts.view_destinations")
    assert not role.group.permissions.exists()
    assert Permission.objects.filter(user=user).count() == 0
    assert SandboxGroupObjectPermission.objects.filter(group=role.group).count() == 2


def test_updating_a_role_regrants_exactly_its_permissions(user, sandbox, other_sandbox, grant):
    role = grant(user, sandbox, perms.VIEW_DESTINATIONS)

    role_update(role=role, permissions=[perms.VIEW_PROFILES], sandboxes=[other_sandbox])

    fresh = type(user).objects.get(pk=user.pk)
    assert has_sandbox_permission(fresh, perms.VIEW_PROFILES, other_sandbox)
    assert not has_sandbox_permission(fresh, perms.VIEW_DESTINATIONS, sandbox)


def test_removing_a_user_from_a_role_withdraws_access(user, sandbox, grant):
    role = grant(user, sandbox, perms.VIEW_DESTINATIONS)

    role_update(role=role, users=[])

    fresh = type(user).objects.get(pk=user.pk)
    assert not has_sandbox_permission(fresh, perms.VIEW_DESTINATIONS, sandbox)


def test_the_switcher_lists_only_sandboxes_where_the_user_holds_a_permission(user, sandbox, other_sandbox, grant):
    grant(user, sandbox, perms.VIEW_ALERTS)

    assert list(sandboxes_visible_to(user)) == [sandbox]


def test_unknown_codenames_are_a_programming_error(user):
    with pytest.raises(ValueError, match="Unknown sandbox permission"):
        restrict(Datastream.objects.all(), user, "view_everything")


def test_a_user_starts_in_a_production_sandbox_when_they_have_one(client, grant):
    from accounts.models import Sandbox
    from tests.factories import SandboxFactory

    dev = SandboxFactory(name="aaa-dev", kind=Sandbox.Kind.DEVELOPMENT)
    prod = SandboxFactory(name="zzz-prod", kind=Sandbox.Kind.PRODUCTION)
    user = UserFactory(username="both")
    grant(user, [dev, prod], perms.VIEW_DATASTREAMS)
    client.force_login(user)

    assert client.get("/").context["current_sandbox"] == prod
