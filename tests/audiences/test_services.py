"""Audience services: model rules, Manage Segments, and no deleting or inactivating an activated audience."""

import datetime

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.utils import timezone

from accounts.constants import MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.audiences.models import Audience
from personalization.audiences.services import audience_create, audience_delete, audience_update
from tests.factories import ActivationFactory, AudienceFactory, DestinationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(user, sandbox, grant):
    grant(user, sandbox, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    return user


@pytest.fixture
def viewer(user, sandbox, grant):
    grant(user, sandbox, VIEW_SEGMENTS)
    return user


def _activate(audience, *destination_names):
    for name in destination_names:
        ActivationFactory(
            audience=audience, destination=DestinationFactory(datastream__sandbox=audience.sandbox, name=name)
        )


def test_a_manager_creates_an_audience_and_is_recorded_as_its_author(manager, sandbox):
    audience = audience_create(user=manager, sandbox=sandbox, name="Gold members", rule={"all": []})

    assert Audience.objects.get(pk=audience.pk).created_by == manager


def test_creating_an_audience_with_a_taken_name_is_refused(manager, sandbox):
    AudienceFactory(sandbox=sandbox, name="Gold members")

    with pytest.raises(ValidationError) as excinfo:
        audience_create(user=manager, sandbox=sandbox, name="Gold members")

    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "An audience with this name already exists in this sandbox."
    ]
    assert Audience.objects.count() == 1


def test_creating_a_segmentation_audience_with_an_expiry_is_refused(manager, sandbox):
    with pytest.raises(ValidationError) as excinfo:
        audience_create(
            user=manager,
            sandbox=sandbox,
            name="Gold",
            origin=Audience.Origin.SEGMENTATION,
            expires_at=timezone.now() + datetime.timedelta(days=30),
        )

    assert "expires_at" in excinfo.value.message_dict
    assert not Audience.objects.exists()


def test_creating_a_custom_upload_with_a_rule_is_refused(manager, sandbox):
    with pytest.raises(ValidationError) as excinfo:
        audience_create(
            user=manager, sandbox=sandbox, name="Imported", origin=Audience.Origin.CUSTOM_UPLOAD, rule={"all": []}
        )

    assert "rule" in excinfo.value.message_dict
    assert not Audience.objects.exists()


def test_a_viewer_cannot_create_an_audience(viewer, sandbox):
    with pytest.raises(PermissionDenied):
        audience_create(user=viewer, sandbox=sandbox, name="Gold members")

    assert not Audience.objects.exists()


def test_a_viewer_cannot_change_an_audience(viewer, sandbox):
    audience = AudienceFactory(sandbox=sandbox, name="Gold members")

    with pytest.raises(PermissionDenied):
        audience_update(user=viewer, audience=audience, name="Platinum members")

    audience.refresh_from_db()
    assert audience.name == "Gold members"


def test_deleting_an_activated_audience_is_refused_naming_its_destinations(manager, sandbox):
    # given
    audience = AudienceFactory(sandbox=sandbox, name="Gold members")
    _activate(audience, "Web banner", "App inbox")
    # when
    with pytest.raises(ValidationError) as excinfo:
        audience_delete(user=manager, audience=audience)
    # then
    assert excinfo.value.messages == [
        "Gold members is activated to App inbox, Web banner; remove it from those destinations before you delete it."
    ]
    assert Audience.objects.filter(pk=audience.pk).exists()
    assert audience.activations.count() == 2


def test_an_audience_activated_nowhere_is_deleted(manager, sandbox):
    audience = AudienceFactory(sandbox=sandbox)

    audience_delete(user=manager, audience=audience)

    assert not Audience.objects.exists()


def test_a_viewer_cannot_delete_an_audience(viewer, sandbox):
    audience = AudienceFactory(sandbox=sandbox)

    with pytest.raises(PermissionDenied):
        audience_delete(user=viewer, audience=audience)

    assert Audience.objects.filter(pk=audience.pk).exists()


def test_inactivating_an_activated_audience_is_refused_naming_its_destinations(manager, sandbox):
    # given
    audience = AudienceFactory(sandbox=sandbox, name="Gold members", status=Audience.Status.PUBLISHED)
    _activate(audience, "Web banner")
    # when
    with pytest.raises(ValidationError) as excinfo:
        audience_update(user=manager, audience=audience, status=Audience.Status.INACTIVE)
    # then
    assert excinfo.value.messages == [
        "Gold members is activated to Web banner; remove it from those destinations before you inactivate it."
    ]
    audience.refresh_from_db()
    assert audience.status == Audience.Status.PUBLISHED


def test_an_audience_activated_nowhere_can_be_inactivated(manager, sandbox):
    audience = AudienceFactory(sandbox=sandbox, status=Audience.Status.PUBLISHED)

    audience_update(user=manager, audience=audience, status=Audience.Status.INACTIVE)

    audience.refresh_from_db()
    assert audience.status == Audience.Status.INACTIVE


def test_an_activated_audience_can_still_be_described(manager, sandbox):
    audience = AudienceFactory(sandbox=sandbox)
    _activate(audience, "Web banner")

    audience_update(user=manager, audience=audience, description="Members with gold status")

    audience.refresh_from_db()
    assert audience.description == "Members with gold status"
