import pytest

from accounts.services import role_create
from tests.factories import SandboxFactory, UserFactory


@pytest.fixture(autouse=True)
def _empty_edge_store():
    """Start every test with an empty cache: the edge store must never leak answers between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sandbox(db):
    return SandboxFactory(name="alpha", title="Alpha")


@pytest.fixture
def other_sandbox(db):
    return SandboxFactory(name="beta", title="Beta")


@pytest.fixture
def grant(db):
    """Give `user` the codenames on the sandboxes through a new role, the way an admin would."""
    counter = iter(range(10**6))

    def _grant(user, sandboxes, *codenames):
        sandboxes = sandboxes if isinstance(sandboxes, list | tuple) else [sandboxes]
        return role_create(
            name="test-role-%d" % next(counter), permissions=list(codenames), users=[user], sandboxes=sandboxes
        )

    return _grant


@pytest.fixture
def user(db):
    return UserFactory(username="member")


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client
