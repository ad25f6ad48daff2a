"""Destination services refuse what the models refuse, check permissions, and never leave half a write behind."""

import datetime

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError

from accounts.constants import (
    ACTIVATE_DESTINATIONS,
    ACTIVATE_SEGMENTS_WITHOUT_MAPPING,
    MANAGE_DESTINATIONS,
    VIEW_DESTINATIONS,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from personalization.audiences.models import Audience
from personalization.destinations.models import (
    MAX_ATTRIBUTE_MAPPINGS,
    MAX_DESTINATIONS_PER_SANDBOX,
    AttributeMapping,
    AudienceActivation,
    Destination,
)
from personalization.destinations.services import (
    activation_delete,
    activation_save,
    attribute_mapping_create,
    attribute_mapping_delete,
    attribute_mapping_update,
    destination_create,
    destination_delete,
    destination_update,
)
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    MappingFactory,
    MarketingActionFactory,
    ProfileFieldFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

WITH_ATTRIBUTES = Destination.Kind.WITH_ATTRIBUTES
PLAIN = Destination.Kind.CUSTOM_PERSONALIZATION
Through = Destination.marketing_actions.through


@pytest.fixture
def manager(user, sandbox, grant):
    grant(user, sandbox, VIEW_DESTINATIONS, MANAGE_DESTINATIONS)
    return user


@pytest.fixture
def activator(sandbox, grant):
    user = UserFactory(username="activator")
    grant(user, sandbox, VIEW_DESTINATIONS, ACTIVATE_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS)
    return user


@pytest.fixture
def viewer(sandbox, grant):
    user = UserFactory(username="viewer")
    grant(user, sandbox, VIEW_DESTINATIONS)
    return user


def _fields(datastream, **overrides):
    return {"kind": PLAIN, "name": "Homepage", "alias": "homepage", "datastream": datastream, **overrides}


def _assert_nothing_written(destinations=0, links=0):
    assert Destination.objects.count() == destinations
    assert Through.objects.count() == links


# Creating destinations


def test_a_manager_connects_a_destination_with_its_marketing_actions(manager, sandbox):
    # given
    actions = MarketingActionFactory.create_batch(2, sandbox=sandbox)
    # when
    destination = destination_create(
        user=manager, sandbox=sandbox, marketing_actions=actions, **_fields(DatastreamFactory(sandbox=sandbox))
    )
    # then
    destination.refresh_from_db()
    assert destination.created_by == manager
    assert set(destination.marketing_actions.all()) == set(actions)


def test_connecting_to_a_datastream_of_another_sandbox_writes_nothing(manager, sandbox, other_sandbox):
    # given
    foreign = DatastreamFactory(sandbox=other_sandbox, name="Their web")
    actions = [MarketingActionFactory(sandbox=sandbox)]
    # when
    with pytest.raises(ValidationError) as excinfo:
        destination_create(user=manager, sandbox=sandbox, marketing_actions=actions, **_fields(foreign))
    # then
    assert excinfo.value.message_dict["datastream"] == [
        "Their web belongs to another sandbox; pick one from this sandbox."
    ]
    _assert_nothing_written()


def test_connecting_to_a_datastream_without_personalization_destinations_writes_nothing(manager, sandbox):
    datastream = DatastreamFactory(sandbox=sandbox, name="Web", personalization_destinations=False)

    with pytest.raises(ValidationError) as excinfo:
        destination_create(
            user=manager,
            sandbox=sandbox,
            marketing_actions=[MarketingActionFactory(sandbox=sandbox)],
            **_fields(datastream),
        )

    assert (
        "turn on the platform service and Personalization Destinations" in excinfo.value.message_dict["datastream"][0]
    )
    _assert_nothing_written()


def test_connecting_with_marketing_actions_of_another_sandbox_writes_nothing(manager, sandbox, other_sandbox):
    # given
    mine = MarketingActionFactory(sandbox=sandbox)
    foreign = MarketingActionFactory(sandbox=other_sandbox, name="Export to Third Party")
    # when
    with pytest.raises(ValidationError) as excinfo:
        destination_create(
            user=manager,
            sandbox=sandbox,
            marketing_actions=[mine, foreign],
            **_fields(DatastreamFactory(sandbox=sandbox)),
        )
    # then
    assert excinfo.value.message_dict["marketing_actions"] == [
        "These marketing actions belong to another sandbox: Export to Third Party; pick ones from this sandbox."
    ]
    _assert_nothing_written()


def test_connecting_with_a_taken_alias_writes_nothing(manager, sandbox):
    existing = DestinationFactory(datastream__sandbox=sandbox, alias="personalizationAlias")

    with pytest.raises(ValidationError) as excinfo:
        destination_create(
            user=manager,
            sandbox=sandbox,
            marketing_actions=[MarketingActionFactory(sandbox=sandbox)],
            **_fields(existing.datastream, alias="personalizationAlias"),
        )

    assert "already uses this integration alias" in excinfo.value.message_dict[NON_FIELD_ERRORS][0]
    _assert_nothing_written(destinations=1)


def test_a_101st_destination_is_refused_through_the_service_too(manager, sandbox):
    # given
    datastream = DatastreamFactory(sandbox=sandbox)
    Destination.objects.bulk_create(
        Destination(sandbox=sandbox, datastream=datastream, kind=PLAIN, name="D%d" % n, alias="d%d" % n)
        for n in range(MAX_DESTINATIONS_PER_SANDBOX)
    )
    # when
    with pytest.raises(ValidationError) as excinfo:
        destination_create(user=manager, sandbox=sandbox, **_fields(datastream, alias="extra"))
    # then
    assert "the maximum is 100" in excinfo.value.message_dict[NON_FIELD_ERRORS][0]
    assert Destination.objects.filter(sandbox=sandbox).count() == MAX_DESTINATIONS_PER_SANDBOX


def test_a_viewer_cannot_connect_a_destination(viewer, sandbox):
    with pytest.raises(PermissionDenied):
        destination_create(
            user=viewer,
            sandbox=sandbox,
            marketing_actions=[MarketingActionFactory(sandbox=sandbox)],
            **_fields(DatastreamFactory(sandbox=sandbox)),
        )

    _assert_nothing_written()


def test_managing_destinations_in_another_sandbox_does_not_allow_connecting_here(user, sandbox, other_sandbox, grant):
    grant(user, other_sandbox, VIEW_DESTINATIONS, MANAGE_DESTINATIONS)

    with pytest.raises(PermissionDenied):
        destination_create(user=user, sandbox=sandbox, **_fields(DatastreamFactory(sandbox=sandbox)))

    _assert_nothing_written()


# Changing and deleting destinations


def test_changing_marketing_actions_to_ones_of_another_sandbox_changes_nothing(manager, sandbox, other_sandbox):
    # given
    kept = MarketingActionFactory(sandbox=sandbox)
    destination = DestinationFactory(datastream__sandbox=sandbox, name="Homepage")
    destination.marketing_actions.set([kept])
    # when
    with pytest.raises(ValidationError) as excinfo:
        destination_update(
            user=manager,
            destination=destination,
            name="Renamed",
            marketing_actions=[MarketingActionFactory(sandbox=other_sandbox)],
        )
    # then
    assert "marketing_actions" in excinfo.value.message_dict
    destination.refresh_from_db()
    assert destination.name == "Homepage"
    assert list(destination.marketing_actions.all()) == [kept]


def test_moving_a_destination_to_an_ineligible_datastream_is_refused(manager, sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox)
    original = destination.datastream_id
    closed = DatastreamFactory(sandbox=sandbox, platform_enabled=False)

    with pytest.raises(ValidationError) as excinfo:
        destination_update(user=manager, destination=destination, datastream=closed)

    assert "datastream" in excinfo.value.message_dict
    destination.refresh_from_db()
    assert destination.datastream_id == original


def test_changing_the_kind_of_a_destination_with_mappings_is_refused(manager, sandbox):
    destination = MappingFactory(destination__datastream__sandbox=sandbox).destination

    with pytest.raises(ValidationError) as excinfo:
        destination_update(user=manager, destination=destination, kind=PLAIN)

    assert excinfo.value.message_dict["kind"] == [
        "Remove this destination's attribute mappings before changing its kind."
    ]
    destination.refresh_from_db()
    assert destination.kind == WITH_ATTRIBUTES


def test_a_viewer_cannot_change_a_destination_or_its_marketing_actions(viewer, sandbox):
    # given
    kept = MarketingActionFactory(sandbox=sandbox)
    destination = DestinationFactory(datastream__sandbox=sandbox, name="Homepage")
    destination.marketing_actions.set([kept])
    # when
    with pytest.raises(PermissionDenied):
        destination_update(
            user=viewer,
            destination=destination,
            name="Renamed",
            marketing_actions=[MarketingActionFactory(sandbox=sandbox)],
        )
    # then
    destination.refresh_from_db()
    assert destination.name == "Homepage"
    assert list(destination.marketing_actions.all()) == [kept]


def test_deleting_a_destination_removes_its_activations_and_mappings(manager, sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=WITH_ATTRIBUTES)
    ActivationFactory(destination=destination)
    MappingFactory(destination=destination)

    destination_delete(user=manager, destination=destination)

    assert not Destination.objects.exists()
    assert not AudienceActivation.objects.exists()
    assert not AttributeMapping.objects.exists()


def test_a_viewer_cannot_delete_a_destination(viewer, sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox)

    with pytest.raises(PermissionDenied):
        destination_delete(user=viewer, destination=destination)

    assert Destination.objects.filter(pk=destination.pk).exists()


# Activations


def test_an_activator_activates_a_published_audience(activator, sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox)
    activation = AudienceActivation(destination=destination, audience=AudienceFactory(sandbox=sandbox))

    activation_save(user=activator, activation=activation, start_date=datetime.date(2026, 1, 1))

    assert AudienceActivation.objects.get().start_date == datetime.date(2026, 1, 1)


def test_activating_a_draft_audience_is_refused(activator, sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox)
    draft = AudienceFactory(sandbox=sandbox, name="Gold members", status=Audience.Status.DRAFT)

    with pytest.raises(ValidationError) as excinfo:
        activation_save(user=activator, activation=AudienceActivation(destination=destination, audience=draft))

    assert excinfo.value.message_dict["audience"] == [
        "Only published audiences can be activated; Gold members is draft."
    ]
    assert not AudienceActivation.objects.exists()


def test_activating_an_audience_of_another_sandbox_is_refused(activator, sandbox, other_sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox)
    foreign = AudienceFactory(sandbox=other_sandbox)

    with pytest.raises(ValidationError) as excinfo:
        activation_save(user=activator, activation=AudienceActivation(destination=destination, audience=foreign))

    assert "audience" in excinfo.value.message_dict
    assert not AudienceActivation.objects.exists()


def test_activating_an_audience_twice_is_refused(activator, sandbox):
    existing = ActivationFactory(destination__datastream__sandbox=sandbox)
    again = AudienceActivation(destination=existing.destination, audience=existing.audience)

    with pytest.raises(ValidationError) as excinfo:
        activation_save(user=activator, activation=again)

    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["This audience is already activated to this destination."]
    assert AudienceActivation.objects.count() == 1


def test_a_schedule_ending_before_it_starts_is_refused_and_the_old_one_kept(activator, sandbox):
    # given
    activation = ActivationFactory(
        destination__datastream__sandbox=sandbox,
        start_date=datetime.date(2026, 1, 1),
        end_date=datetime.date(2026, 12, 31),
    )
    # when
    with pytest.raises(ValidationError) as excinfo:
        activation_save(user=activator, activation=activation, end_date=datetime.date(2025, 12, 31))
    # then
    assert excinfo.value.message_dict["end_date"] == ["The end date cannot be before the start date."]
    activation.refresh_from_db()
    assert activation.end_date == datetime.date(2026, 12, 31)


def test_activating_without_an_activate_permission_is_refused(viewer, sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox)
    audience = AudienceFactory(sandbox=sandbox)

    with pytest.raises(PermissionDenied):
        activation_save(user=viewer, activation=AudienceActivation(destination=destination, audience=audience))

    assert not AudienceActivation.objects.exists()


def test_activate_segments_without_mapping_is_enough_to_activate(sandbox, grant):
    user = UserFactory(username="segments-only")
    grant(user, sandbox, VIEW_DESTINATIONS, ACTIVATE_SEGMENTS_WITHOUT_MAPPING, VIEW_PROFILES, VIEW_SEGMENTS)
    destination = DestinationFactory(datastream__sandbox=sandbox)

    activation_save(
        user=user, activation=AudienceActivation(destination=destination, audience=AudienceFactory(sandbox=sandbox))
    )

    assert AudienceActivation.objects.count() == 1


def test_removing_an_activation_without_an_activate_permission_is_refused(viewer, sandbox):
    activation = ActivationFactory(destination__datastream__sandbox=sandbox)

    with pytest.raises(PermissionDenied):
        activation_delete(user=viewer, activation=activation)

    assert AudienceActivation.objects.filter(pk=activation.pk).exists()


def test_an_activator_removes_an_activation(activator, sandbox):
    activation = ActivationFactory(destination__datastream__sandbox=sandbox)

    activation_delete(user=activator, activation=activation)

    assert not AudienceActivation.objects.exists()


# Attribute mappings


@pytest.fixture
def attributes_destination(sandbox):
    return DestinationFactory(datastream__sandbox=sandbox, kind=WITH_ATTRIBUTES, name="App inbox")


def test_an_activator_maps_a_scalar_field(activator, sandbox, attributes_destination):
    source = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")

    attribute_mapping_create(user=activator, destination=attributes_destination, source=source, target="countryCode")

    assert list(attributes_destination.mappings.values_list("target", flat=True)) == ["countryCode"]


def test_a_31st_mapping_is_refused_by_the_service_with_the_limit_in_the_message(
    activator, sandbox, attributes_destination
):
    # given
    MappingFactory.create_batch(MAX_ATTRIBUTE_MAPPINGS, destination=attributes_destination)
    # when
    with pytest.raises(ValidationError) as excinfo:
        attribute_mapping_create(
            user=activator,
            destination=attributes_destination,
            source=ProfileFieldFactory(sandbox=sandbox),
            target="oneTooMany",
        )
    # then
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "App inbox already maps 30 attributes, the maximum is 30; remove a mapping before adding another."
    ]
    assert attributes_destination.mappings.count() == MAX_ATTRIBUTE_MAPPINGS


def test_mapping_a_field_of_another_sandbox_is_refused(activator, other_sandbox, attributes_destination):
    with pytest.raises(ValidationError) as excinfo:
        attribute_mapping_create(
            user=activator,
            destination=attributes_destination,
            source=ProfileFieldFactory(sandbox=other_sandbox),
            target="tier",
        )

    assert "source" in excinfo.value.message_dict
    assert not AttributeMapping.objects.exists()


def test_mapping_a_non_scalar_field_is_refused(activator, sandbox, attributes_destination):
    source = ProfileFieldFactory(sandbox=sandbox, path="orders", field_type="array")

    with pytest.raises(ValidationError) as excinfo:
        attribute_mapping_create(user=activator, destination=attributes_destination, source=source, target="orders")

    assert excinfo.value.message_dict["source"] == [
        "orders is a field of type array; only scalar fields can be mapped."
    ]
    assert not AttributeMapping.objects.exists()


def test_mapping_on_a_plain_destination_is_refused(activator, sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=PLAIN)

    with pytest.raises(ValidationError) as excinfo:
        attribute_mapping_create(
            user=activator, destination=destination, source=ProfileFieldFactory(sandbox=sandbox), target="tier"
        )

    assert "only the With Attributes kind maps attributes" in excinfo.value.message_dict[NON_FIELD_ERRORS][0]
    assert not AttributeMapping.objects.exists()


def test_renaming_a_target_to_one_already_used_is_refused(activator, sandbox, attributes_destination):
    MappingFactory(destination=attributes_destination, target="countryCode")
    mapping = MappingFactory(destination=attributes_destination, target="tier")

    with pytest.raises(ValidationError):
        attribute_mapping_update(user=activator, mapping=mapping, target="countryCode")

    mapping.refresh_from_db()
    assert mapping.target == "tier"


def test_activate_segments_without_mapping_cannot_change_mappings(sandbox, grant, attributes_destination):
    # given
    user = UserFactory(username="segments-only")
    grant(user, sandbox, VIEW_DESTINATIONS, ACTIVATE_SEGMENTS_WITHOUT_MAPPING, VIEW_PROFILES, VIEW_SEGMENTS)
    existing = MappingFactory(destination=attributes_destination, target="tier")
    # when / then
    with pytest.raises(PermissionDenied):
        attribute_mapping_create(
            user=user,
            destination=attributes_destination,
            source=ProfileFieldFactory(sandbox=sandbox),
            target="countryCode",
        )
    with pytest.raises(PermissionDenied):
        attribute_mapping_update(user=user, mapping=existing, target="loyaltyTier")
    with pytest.raises(PermissionDenied):
        attribute_mapping_delete(user=user, mapping=existing)
    assert list(AttributeMapping.objects.values_list("target", flat=True)) == ["tier"]
