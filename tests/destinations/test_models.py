"""Destination rules: aliases, eligible datastreams, the 100-destination and 30-mapping limits, activations."""

import datetime

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from personalization.audiences.models import Audience
from personalization.destinations.models import (
    MAX_ATTRIBUTE_MAPPINGS,
    MAX_DESTINATIONS_PER_SANDBOX,
    AttributeMapping,
    AudienceActivation,
    Destination,
)
from personalization.validators import json_key_validator
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    MappingFactory,
    ProfileFieldFactory,
)

pytestmark = pytest.mark.django_db

WITH_ATTRIBUTES = Destination.Kind.WITH_ATTRIBUTES
PLAIN = Destination.Kind.CUSTOM_PERSONALIZATION


def _destination(datastream, **fields):
    values = {"kind": PLAIN, "name": "Homepage", "alias": "homepage", **fields}
    return Destination(sandbox=datastream.sandbox, datastream=datastream, **values)


def _fill_sandbox_with_destinations(sandbox, count):
    datastream = DatastreamFactory(sandbox=sandbox)
    Destination.objects.bulk_create(
        _destination(datastream, name="Destination %d" % n, alias="alias%d" % n) for n in range(count)
    )
    return datastream


# Destination


def test_a_destination_on_an_eligible_datastream_of_its_sandbox_is_valid(sandbox):
    _destination(DatastreamFactory(sandbox=sandbox)).full_clean()


def test_two_destinations_on_one_datastream_cannot_share_an_alias(sandbox):
    # given
    datastream = DatastreamFactory(sandbox=sandbox)
    DestinationFactory(datastream=datastream, alias="personalizationAlias")
    duplicate = _destination(datastream, name="Second", alias="personalizationAlias")
    # when
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "Another destination on this datastream already uses this integration alias; "
        "callers tell destinations apart by alias, so pick a different one."
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_the_same_alias_is_fine_on_another_datastream(sandbox):
    DestinationFactory(datastream__sandbox=sandbox, alias="personalizationAlias")

    _destination(DatastreamFactory(sandbox=sandbox), alias="personalizationAlias").full_clean()


@pytest.mark.parametrize("alias", ["personalizationAlias", "_web", "a", "web_2", "a" * 64])
def test_aliases_usable_as_json_keys_are_accepted(alias):
    json_key_validator(alias)


@pytest.mark.parametrize("alias", ["my alias", "2web", "web-banner", "web.banner", "a" * 65, "ümlaut"])
def test_an_alias_that_cannot_be_a_json_key_is_refused_explaining_why(sandbox, alias):
    with pytest.raises(ValidationError) as excinfo:
        _destination(DatastreamFactory(sandbox=sandbox), alias=alias).full_clean()

    assert (
        "Use 1–64 letters, digits or underscores, starting with a letter or underscore; "
        "the name becomes a JSON key in the lookup response." in excinfo.value.message_dict["alias"]
    )


def test_a_destination_cannot_use_a_datastream_of_another_sandbox(sandbox, other_sandbox):
    foreign = DatastreamFactory(sandbox=other_sandbox, name="Their web")

    with pytest.raises(ValidationError) as excinfo:
        Destination(sandbox=sandbox, datastream=foreign, kind=PLAIN, name="Mine", alias="mine").full_clean()

    assert excinfo.value.message_dict["datastream"] == [
        "Their web belongs to another sandbox; pick one from this sandbox."
    ]


@pytest.mark.parametrize(
    ("platform_enabled", "personalization_destinations"), [(True, False), (False, True), (False, False)]
)
def test_a_destination_needs_a_datastream_with_platform_and_personalization_destinations_on(
    sandbox, platform_enabled, personalization_destinations
):
    datastream = DatastreamFactory(
        sandbox=sandbox,
        name="Web",
        platform_enabled=platform_enabled,
        personalization_destinations=personalization_destinations,
    )

    with pytest.raises(ValidationError) as excinfo:
        _destination(datastream).full_clean()

    assert excinfo.value.message_dict["datastream"] == [
        "The datastream Web does not have personalization destinations enabled; "
        "turn on the platform service and Personalization Destinations on it first."
    ]


def test_the_hundredth_destination_of_a_sandbox_is_accepted(sandbox):
    datastream = _fill_sandbox_with_destinations(sandbox, MAX_DESTINATIONS_PER_SANDBOX - 1)

    _destination(datastream, name="Hundredth", alias="hundredth").full_clean()


def test_a_101st_destination_in_a_sandbox_is_refused_with_the_limit_in_the_message(sandbox):
    # given
    datastream = _fill_sandbox_with_destinations(sandbox, MAX_DESTINATIONS_PER_SANDBOX)
    # when
    with pytest.raises(ValidationError) as excinfo:
        _destination(datastream, name="One too many", alias="extra").full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "This sandbox already has 100 destinations, the maximum is 100; delete a destination you no longer need first."
    ]


def test_a_full_sandbox_does_not_limit_another_sandbox(sandbox, other_sandbox):
    _fill_sandbox_with_destinations(sandbox, MAX_DESTINATIONS_PER_SANDBOX)

    _destination(DatastreamFactory(sandbox=other_sandbox)).full_clean()


def test_the_destinations_of_a_full_sandbox_can_still_be_edited(sandbox):
    _fill_sandbox_with_destinations(sandbox, MAX_DESTINATIONS_PER_SANDBOX)
    destination = Destination.objects.filter(sandbox=sandbox).first()

    destination.description = "Still editable"
    destination.full_clean()


def test_only_the_with_attributes_kind_returns_attributes():
    assert Destination(kind=WITH_ATTRIBUTES).returns_attributes
    assert not Destination(kind=PLAIN).returns_attributes


# Audience activations


def test_an_audience_is_activated_to_a_destination_at_most_once(sandbox):
    # given
    existing = ActivationFactory(destination__datastream__sandbox=sandbox)
    duplicate = AudienceActivation(destination=existing.destination, audience=existing.audience)
    # when
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["This audience is already activated to this destination."]
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_an_activation_cannot_end_before_it_starts(sandbox):
    activation = ActivationFactory.build(
        destination=DestinationFactory(datastream__sandbox=sandbox),
        start_date=datetime.date(2026, 3, 10),
        end_date=datetime.date(2026, 3, 9),
    )

    with pytest.raises(ValidationError) as excinfo:
        activation.full_clean()
    assert excinfo.value.message_dict["end_date"] == ["The end date cannot be before the start date."]

    with pytest.raises(IntegrityError), transaction.atomic():
        activation.save()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime.date(2026, 3, 10), datetime.date(2026, 3, 10)),
        (datetime.date(2026, 3, 10), None),
        (None, datetime.date(2026, 3, 10)),
        (None, None),
    ],
)
def test_an_activation_may_last_one_day_or_be_open_ended(sandbox, start, end):
    activation = ActivationFactory.build(
        destination=DestinationFactory(datastream__sandbox=sandbox), start_date=start, end_date=end
    )

    activation.full_clean()
    activation.save()


def test_an_audience_of_another_sandbox_cannot_be_activated(sandbox, other_sandbox):
    activation = AudienceActivation(
        destination=DestinationFactory(datastream__sandbox=sandbox), audience=AudienceFactory(sandbox=other_sandbox)
    )

    with pytest.raises(ValidationError) as excinfo:
        activation.full_clean()

    assert excinfo.value.message_dict["audience"] == ["The audience belongs to another sandbox than the destination."]


@pytest.mark.parametrize("status", [Audience.Status.DRAFT, Audience.Status.INACTIVE])
def test_only_published_audiences_can_be_activated(sandbox, status):
    audience = AudienceFactory(sandbox=sandbox, name="Gold members", status=status)
    activation = AudienceActivation(destination=DestinationFactory(datastream__sandbox=sandbox), audience=audience)

    with pytest.raises(ValidationError) as excinfo:
        activation.full_clean()

    assert excinfo.value.message_dict["audience"] == [
        "Only published audiences can be activated; Gold members is %s." % status
    ]


def test_an_existing_activation_stays_editable_after_its_audience_leaves_published(sandbox):
    activation = ActivationFactory(destination__datastream__sandbox=sandbox)
    Audience.objects.filter(pk=activation.audience_id).update(status=Audience.Status.DRAFT)
    activation.refresh_from_db()

    activation.end_date = datetime.date(2030, 1, 1)
    activation.full_clean()


# Attribute mappings


def test_a_destination_maps_a_target_name_only_once(sandbox):
    # given
    existing = MappingFactory(destination__datastream__sandbox=sandbox, target="countryCode")
    duplicate = AttributeMapping(
        destination=existing.destination, source=ProfileFieldFactory(sandbox=sandbox), target="countryCode"
    )
    # when
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "This destination already maps a field to this target name."
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_the_same_target_name_is_fine_on_another_destination(sandbox):
    existing = MappingFactory(destination__datastream__sandbox=sandbox, target="countryCode")
    other = DestinationFactory(datastream__sandbox=sandbox, kind=WITH_ATTRIBUTES)

    AttributeMapping(destination=other, source=existing.source, target="countryCode").full_clean()


@pytest.mark.parametrize("target", ["country code", "1st", "country-code", "a" * 65])
def test_a_target_that_cannot_be_a_json_key_is_refused(sandbox, target):
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=WITH_ATTRIBUTES)
    mapping = AttributeMapping(destination=destination, source=ProfileFieldFactory(sandbox=sandbox), target=target)

    with pytest.raises(ValidationError) as excinfo:
        mapping.full_clean()

    assert any("the name becomes a JSON key" in message for message in excinfo.value.message_dict["target"])


def test_a_plain_custom_personalization_destination_cannot_map_attributes(sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=PLAIN, name="Web banner")
    mapping = AttributeMapping(destination=destination, source=ProfileFieldFactory(sandbox=sandbox), target="tier")

    with pytest.raises(ValidationError) as excinfo:
        mapping.full_clean()

    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "Web banner is a Custom Personalization destination; only the With Attributes kind maps attributes."
    ]


def test_a_mapping_cannot_send_a_field_of_another_sandbox(sandbox, other_sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=WITH_ATTRIBUTES)
    foreign = ProfileFieldFactory(sandbox=other_sandbox, path="loyalty.tier")

    with pytest.raises(ValidationError) as excinfo:
        AttributeMapping(destination=destination, source=foreign, target="tier").full_clean()

    assert excinfo.value.message_dict["source"] == [
        "loyalty.tier belongs to another sandbox; pick one from this sandbox."
    ]


@pytest.mark.parametrize("field_type", ["array", "map"])
def test_only_scalar_fields_can_be_mapped(sandbox, field_type):
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=WITH_ATTRIBUTES)
    source = ProfileFieldFactory(sandbox=sandbox, path="orders", field_type=field_type)

    with pytest.raises(ValidationError) as excinfo:
        AttributeMapping(destination=destination, source=source, target="orders").full_clean()

    assert excinfo.value.message_dict["source"] == [
        "orders is a field of type %s; only scalar fields can be mapped." % field_type
    ]


def test_the_thirtieth_mapping_is_accepted(sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=WITH_ATTRIBUTES)
    MappingFactory.create_batch(MAX_ATTRIBUTE_MAPPINGS - 1, destination=destination)

    AttributeMapping(destination=destination, source=ProfileFieldFactory(sandbox=sandbox), target="last").full_clean()


def test_a_31st_mapping_is_refused_with_the_limit_in_the_message(sandbox):
    # given
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=WITH_ATTRIBUTES, name="App inbox")
    MappingFactory.create_batch(MAX_ATTRIBUTE_MAPPINGS, destination=destination)
    one_too_many = AttributeMapping(destination=destination, source=ProfileFieldFactory(sandbox=sandbox), target="x")
    # when
    with pytest.raises(ValidationError) as excinfo:
        one_too_many.full_clean()
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "App inbox already maps 30 attributes, the maximum is 30; remove a mapping before adding another."
    ]


def test_the_mappings_of_a_full_destination_can_still_be_edited(sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=WITH_ATTRIBUTES)
    mapping = MappingFactory.create_batch(MAX_ATTRIBUTE_MAPPINGS, destination=destination)[0]

    mapping.target = "renamed"
    mapping.full_clean()
