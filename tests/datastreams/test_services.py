"""Datastream services: validation and permissions before writing, no deleting a datastream still in use."""

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError

from accounts.constants import MANAGE_DATASTREAMS, VIEW_DATASTREAMS
from personalization.datastreams.models import Datastream
from personalization.datastreams.services import datastream_create, datastream_delete, datastream_update
from tests.factories import DatastreamFactory, DestinationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(user, sandbox, grant):
    grant(user, sandbox, VIEW_DATASTREAMS, MANAGE_DATASTREAMS)
    return user


def test_a_manager_creates_a_datastream(manager, sandbox):
    datastream = datastream_create(user=manager, sandbox=sandbox, name="Web", allowed_origins=["https://example.com"])

    assert Datastream.objects.get(pk=datastream.pk).allowed_origins == ["https://example.com"]


def test_creating_a_datastream_with_a_taken_name_is_refused(manager, sandbox):
    DatastreamFactory(sandbox=sandbox, name="Web")

    with pytest.raises(ValidationError) as excinfo:
        datastream_create(user=manager, sandbox=sandbox, name="Web")

    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "A datastream with this name already exists in this sandbox."
    ]
    assert Datastream.objects.count() == 1


def test_creating_a_datastream_with_a_path_in_an_origin_is_refused(manager, sandbox):
    with pytest.raises(ValidationError) as excinfo:
        datastream_create(user=manager, sandbox=sandbox, name="Web", allowed_origins=["https://example.com/shop"])

    assert "https://example.com/shop is not an origin" in excinfo.value.message_dict["allowed_origins"][0]
    assert not Datastream.objects.exists()


def test_a_viewer_cannot_create_a_datastream(user, sandbox, grant):
    grant(user, sandbox, VIEW_DATASTREAMS)

    with pytest.raises(PermissionDenied):
        datastream_create(user=user, sandbox=sandbox, name="Web")

    assert not Datastream.objects.exists()


def test_managing_datastreams_in_another_sandbox_does_not_allow_creating_here(user, sandbox, other_sandbox, grant):
    grant(user, other_sandbox, VIEW_DATASTREAMS, MANAGE_DATASTREAMS)

    with pytest.raises(PermissionDenied):
        datastream_create(user=user, sandbox=sandbox, name="Web")

    assert not Datastream.objects.exists()


def test_updating_a_datastream_without_permission_saves_nothing(user, sandbox, grant):
    # given
    datastream = DatastreamFactory(sandbox=sandbox, name="Web")
    grant(user, sandbox, VIEW_DATASTREAMS)
    # when
    with pytest.raises(PermissionDenied):
        datastream_update(user=user, datastream=datastream, name="Renamed", enabled=False)
    # then
    datastream.refresh_from_db()
    assert (datastream.name, datastream.enabled) == ("Web", True)


def test_updating_a_datastream_with_a_bad_origin_saves_nothing(manager, sandbox):
    datastream = DatastreamFactory(sandbox=sandbox, name="Web")

    with pytest.raises(ValidationError):
        datastream_update(user=manager, datastream=datastream, name="Renamed", allowed_origins=["example.com"])

    datastream.refresh_from_db()
    assert (datastream.name, datastream.allowed_origins) == ("Web", [])


def test_deleting_a_datastream_that_destinations_answer_on_is_refused_naming_them(manager, sandbox):
    # given
    datastream = DatastreamFactory(sandbox=sandbox, name="Web")
    DestinationFactory(datastream=datastream, name="Homepage banner")
    DestinationFactory(datastream=datastream, name="Checkout offers")
    # when
    with pytest.raises(ValidationError) as excinfo:
        datastream_delete(user=manager, datastream=datastream)
    # then
    assert excinfo.value.messages == [
        "Delete or move these destinations first, they answer on this datastream: Checkout offers, Homepage banner."
    ]
    assert Datastream.objects.filter(pk=datastream.pk).exists()


def test_an_unused_datastream_is_deleted(manager, sandbox):
    datastream = DatastreamFactory(sandbox=sandbox)

    datastream_delete(user=manager, datastream=datastream)

    assert not Datastream.objects.exists()


def test_a_viewer_cannot_delete_a_datastream(user, sandbox, grant):
    datastream = DatastreamFactory(sandbox=sandbox)
    grant(user, sandbox, VIEW_DATASTREAMS)

    with pytest.raises(PermissionDenied):
        datastream_delete(user=user, datastream=datastream)

    assert Datastream.objects.filter(pk=datastream.pk).exists()
