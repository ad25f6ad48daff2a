import pytest

from accounts import constants as perms
from tests.factories import UserFactory

STEWARD = (perms.VIEW_POLICIES, perms.MANAGE_POLICIES, perms.VIEW_PROFILES, perms.APPLY_LABELS)


@pytest.fixture
def steward(sandbox, grant):
    """A data steward of the sandbox: reads and manages policies, and labels profile fields."""
    user = UserFactory(username="steward")
    grant(user, sandbox, *STEWARD)
    return user
