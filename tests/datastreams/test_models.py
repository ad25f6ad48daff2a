"""Datastream rules: unique names per sandbox, allowed origins written as origins."""

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from personalization.datastreams.models import Datastream, validate_origins
from tests.factories import DatastreamFactory

pytestmark = pytest.mark.django_db


def test_two_datastreams_in_one_sandbox_cannot_share_a_name(sandbox):
    # given
    DatastreamFactory(sandbox=sandbox, name="Web")
    # when
    with pytest.raises(ValidationError) as excinfo:
        Datastream(sandbox=sandbox, name="Web").full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "A datastream with this name already exists in this sandbox."
    ]


def test_the_database_refuses_a_second_datastream_with_the_same_name(sandbox):
    DatastreamFactory(sandbox=sandbox, name="Web")

    with pytest.raises(IntegrityError), transaction.atomic():
        Datastream.objects.create(sandbox=sandbox, name="Web")


def test_the_same_datastream_name_is_fine_in_another_sandbox(sandbox, other_sandbox):
    DatastreamFactory(sandbox=sandbox, name="Web")

    Datastream(sandbox=other_sandbox, name="Web").full_clean()


@pytest.mark.parametrize(
    "origins",
    [[], ["https://www.example.com"], ["http://localhost:8000", "https://shop.example.co.uk"], ["https://[::1]:8443"]],
)
def test_allowed_origins_written_as_scheme_and_host_are_accepted(sandbox, origins):
    Datastream(sandbox=sandbox, name="Web", allowed_origins=origins).full_clean()


@pytest.mark.parametrize(
    "origin",
    [
        "www.example.com",
        "ftp://www.example.com",
        "https://",
        "https://www.example.com/",
        "https://www.example.com/shop",
        "https://www.example.com?campaign=1",
        "https://www.example.com#top",
        "https://user@www.example.com",
        "https://www example.com",
        "*",
    ],
)
def test_an_allowed_origin_that_is_not_an_origin_is_refused_naming_it(sandbox, origin):
    # given
    datastream = Datastream(sandbox=sandbox, name="Web", allowed_origins=["https://ok.example.com", origin])
    # when
    with pytest.raises(ValidationError) as excinfo:
        datastream.full_clean()
    # then
    assert excinfo.value.message_dict["allowed_origins"] == [
        "%s is not an origin; write scheme and host only, e.g. https://www.example.com." % origin
    ]


def test_allowed_origins_must_be_a_list():
    with pytest.raises(ValidationError) as excinfo:
        validate_origins("https://www.example.com")

    assert excinfo.value.messages == ["Allowed origins must be a list."]


def test_a_datastream_with_origins_that_are_not_a_list_says_so_rather_than_invalid_json(sandbox):
    with pytest.raises(ValidationError) as excinfo:
        Datastream(sandbox=sandbox, name="Web", allowed_origins="https://www.example.com").full_clean()

    assert excinfo.value.message_dict["allowed_origins"] == ["Allowed origins must be a list."]


@pytest.mark.parametrize(
    ("platform", "personalization", "accepts"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_a_datastream_accepts_personalization_destinations_only_with_platform_and_the_toggle_on(
    platform, personalization, accepts
):
    datastream = Datastream(platform_enabled=platform, personalization_destinations=personalization)

    assert datastream.accepts_personalization_destinations is accepts
