import pytest

from django.urls import reverse

from accounts import constants as perms
from personalization.audiences.models import Audience
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.profiles.models import ProfileField
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    MappingFactory,
    MarketingActionFactory,
    ProfileFieldFactory,
)
from tests.utils.permissions import APIViewTestCases

pytestmark = pytest.mark.django_db

DESTINATIONS_URL = reverse("api:destination-list")
ACTIVATIONS_URL = reverse("api:activation-list")
MAPPINGS_URL = reverse("api:attribute-mapping-list")


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


#
# Destinations
#


class TestDestinationEndpoints(
    APIViewTestCases.ListView,
    APIViewTestCases.RetrieveView,
    APIViewTestCases.CreateView,
    APIViewTestCases.UpdateView,
    APIViewTestCases.DeleteView,
):
    basename = "destination"
    view_permission = perms.VIEW_DESTINATIONS
    change_permission = perms.MANAGE_DESTINATIONS

    def make_object(self, sandbox):
        return DestinationFactory(datastream__sandbox=sandbox)

    def create_data(self, sandbox):
        return {
            "sandbox": sandbox.name,
            "kind": "custom_personalization",
            "name": "Homepage",
            "alias": "homepage",
            "datastream": str(DatastreamFactory(sandbox=sandbox).pk),
        }

    def update_data(self, sandbox):
        return {"name": "Homepage banner", "enabled": False}


@pytest.fixture
def connector(user, sandbox, grant):
    """A user allowed to connect destinations in sandbox alpha (View + Manage Destinations)."""
    grant(user, sandbox, perms.VIEW_DESTINATIONS, perms.MANAGE_DESTINATIONS)
    return user


@pytest.fixture
def datastream(sandbox):
    return DatastreamFactory(sandbox=sandbox, name="Website")


def destination_data(datastream, **overrides):
    return {
        "sandbox": datastream.sandbox.name,
        "kind": "custom_personalization",
        "name": "Homepage",
        "alias": "homepage",
        "datastream": str(datastream.pk),
        **overrides,
    }


def test_a_destination_is_created_with_its_marketing_actions_as_ids(user_client, connector, datastream, sandbox):
    # given
    onsite = MarketingActionFactory(sandbox=sandbox, name="Onsite Personalization")
    # when
    response = post(user_client, DESTINATIONS_URL, destination_data(datastream, marketing_actions=[onsite.pk]))
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["marketing_actions"] == [onsite.pk]
    assert body["created_by"] == "member"
    assert list(Destination.objects.get(pk=body["id"]).marketing_actions.all()) == [onsite]


def test_an_alias_already_used_on_the_datastream_is_refused_on_the_alias(user_client, connector, datastream):
    # given
    DestinationFactory(datastream=datastream, alias="homepage")
    # when
    response = post(user_client, DESTINATIONS_URL, destination_data(datastream, name="Second"))
    # then
    assert response.status_code == 400
    assert "already uses this integration alias" in response.json()["alias"][0]
    assert Destination.objects.count() == 1


def test_a_datastream_of_another_sandbox_is_refused_on_the_datastream(
    user_client, connector, sandbox, other_sandbox, grant
):
    # given: the user sees both sandboxes, so the datastream is a valid choice but the wrong one
    grant(connector, other_sandbox, perms.VIEW_DESTINATIONS)
    foreign = DatastreamFactory(sandbox=other_sandbox, name="Beta web")
    # when
    response = post(user_client, DESTINATIONS_URL, destination_data(foreign, sandbox="alpha"))
    # then
    assert response.status_code == 400
    assert "belongs to another sandbox" in response.json()["datastream"][0]
    assert not Destination.objects.exists()


def test_a_datastream_the_user_cannot_see_does_not_exist_for_them(user_client, connector, other_sandbox):
    foreign = DatastreamFactory(sandbox=other_sandbox)

    response = post(user_client, DESTINATIONS_URL, destination_data(foreign, sandbox="alpha"))

    assert response.status_code == 400
    assert "does not exist" in response.json()["datastream"][0]
    assert not Destination.objects.exists()


def test_a_datastream_without_personalization_destinations_is_refused_on_the_datastream(
    user_client, connector, sandbox
):
    plain = DatastreamFactory(sandbox=sandbox, name="Analytics only", personalization_destinations=False)

    response = post(user_client, DESTINATIONS_URL, destination_data(plain))

    assert response.status_code == 400
    message = response.json()["datastream"][0]
    assert "Analytics only" in message
    assert "Personalization Destinations" in message
    assert not Destination.objects.exists()


def test_the_101st_destination_of_a_sandbox_is_refused_on_the_sandbox(user_client, connector, datastream):
    # given
    DestinationFactory.create_batch(100, datastream=datastream)
    # when
    response = post(user_client, DESTINATIONS_URL, destination_data(datastream, alias="one_too_many"))
    # then
    assert response.status_code == 400
    assert "the maximum is 100" in response.json()["sandbox"][0]
    assert Destination.objects.count() == 100


def test_marketing_actions_of_another_sandbox_are_refused_and_nothing_is_written(
    user_client, connector, datastream, other_sandbox, grant
):
    # given
    grant(connector, other_sandbox, perms.VIEW_DESTINATIONS)
    foreign = MarketingActionFactory(sandbox=other_sandbox, name="Export to Third Party")
    # when
    response = post(user_client, DESTINATIONS_URL, destination_data(datastream, marketing_actions=[foreign.pk]))
    # then
    assert response.status_code == 400
    assert "Export to Third Party" in response.json()["marketing_actions"][0]
    assert not Destination.objects.exists()


def test_a_destination_with_mappings_cannot_change_its_kind(user_client, connector, sandbox):
    mapping = MappingFactory(destination__datastream__sandbox=sandbox)

    response = user_client.patch(
        reverse("api:destination-detail", args=[mapping.destination.pk]),
        {"kind": "custom_personalization"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "kind" in response.json()
    mapping.destination.refresh_from_db()
    assert mapping.destination.kind == Destination.Kind.WITH_ATTRIBUTES


def test_the_destination_detail_includes_its_activations_and_mappings(user_client, connector, sandbox, grant):
    # given: audience names and field paths need View Segments and View Profiles besides View Destinations
    grant(connector, sandbox, perms.VIEW_SEGMENTS, perms.VIEW_PROFILES)
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=Destination.Kind.WITH_ATTRIBUTES)
    activation = ActivationFactory(destination=destination, audience=AudienceFactory(sandbox=sandbox, name="Shoppers"))
    field = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")
    MappingFactory(destination=destination, source=field, target="country")
    # when
    detail = user_client.get(reverse("api:destination-detail", args=[destination.pk])).json()
    listed = user_client.get(DESTINATIONS_URL).json()["results"][0]
    # then
    assert detail["activations"] == [
        {
            "id": activation.pk,
            "audience": str(activation.audience.pk),
            "audience_name": "Shoppers",
            "start_date": None,
            "end_date": None,
        }
    ]
    assert [(m["source_path"], m["target"]) for m in detail["mappings"]] == [("homeAddress.countryCode", "country")]
    assert "activations" not in listed


def test_deleting_a_destination_removes_its_activations_and_mappings(user_client, connector, sandbox):
    destination = DestinationFactory(datastream__sandbox=sandbox, kind=Destination.Kind.WITH_ATTRIBUTES)
    ActivationFactory(destination=destination)
    MappingFactory(destination=destination)

    assert user_client.delete(reverse("api:destination-detail", args=[destination.pk])).status_code == 204

    assert not AudienceActivation.objects.exists()
    assert not AttributeMapping.objects.exists()


#
# Audience activations
#


class TestActivationEndpoints(
    APIViewTestCases.ListView,
    APIViewTestCases.RetrieveView,
    APIViewTestCases.CreateView,
    APIViewTestCases.UpdateView,
    APIViewTestCases.DeleteView,
):
    basename = "activation"
    view_permission = perms.VIEW_DESTINATIONS
    change_permission = perms.ACTIVATE_DESTINATIONS
    # Activating needs View Profiles and View Segments too (spec §11), so viewers here hold them as well.
    extra_permissions = (perms.VIEW_SEGMENTS, perms.VIEW_PROFILES)

    def make_object(self, sandbox):
        return ActivationFactory(destination__datastream__sandbox=sandbox)

    def create_data(self, sandbox):
        return {
            "destination": str(DestinationFactory(datastream__sandbox=sandbox).pk),
            "audience": str(AudienceFactory(sandbox=sandbox).pk),
            "start_date": "2030-01-01",
        }

    def update_data(self, sandbox):
        return {"end_date": "2030-12-31"}


@pytest.fixture
def activator(user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_DESTINATIONS, perms.ACTIVATE_DESTINATIONS, perms.VIEW_SEGMENTS, perms.VIEW_PROFILES)
    return user


@pytest.fixture
def destination(sandbox):
    return DestinationFactory(datastream__sandbox=sandbox, name="Homepage")


def test_activating_without_mapping_permission_is_enough_to_activate(user_client, user, sandbox, grant, destination):
    # given
    grant(
        user,
        sandbox,
        perms.VIEW_DESTINATIONS,
        perms.ACTIVATE_SEGMENTS_WITHOUT_MAPPING,
        perms.VIEW_SEGMENTS,
        perms.VIEW_PROFILES,
    )
    audience = AudienceFactory(sandbox=sandbox)
    # when
    response = post(user_client, ACTIVATIONS_URL, {"destination": str(destination.pk), "audience": str(audience.pk)})
    # then
    assert response.status_code == 201, response.content
    assert destination.activations.filter(audience=audience).exists()


def test_a_draft_audience_cannot_be_activated(user_client, activator, sandbox, destination):
    draft = AudienceFactory(sandbox=sandbox, name="Idea", status=Audience.Status.DRAFT)

    response = post(user_client, ACTIVATIONS_URL, {"destination": str(destination.pk), "audience": str(draft.pk)})

    assert response.status_code == 400
    assert "Only published audiences can be activated; Idea is draft." in response.json()["audience"][0]
    assert not AudienceActivation.objects.exists()


def test_an_audience_of_another_sandbox_is_refused_on_the_audience(
    user_client, activator, other_sandbox, grant, destination
):
    grant(activator, other_sandbox, perms.VIEW_SEGMENTS)
    foreign = AudienceFactory(sandbox=other_sandbox)

    response = post(user_client, ACTIVATIONS_URL, {"destination": str(destination.pk), "audience": str(foreign.pk)})

    assert response.status_code == 400
    assert "another sandbox" in response.json()["audience"][0]
    assert not AudienceActivation.objects.exists()


def test_an_audience_activated_twice_is_refused_on_the_audience(user_client, activator, destination):
    activation = ActivationFactory(destination=destination)

    response = post(
        user_client, ACTIVATIONS_URL, {"destination": str(destination.pk), "audience": str(activation.audience.pk)}
    )

    assert response.status_code == 400
    assert "already activated to this destination" in response.json()["audience"][0]
    assert AudienceActivation.objects.count() == 1


def test_an_end_date_before_the_start_is_refused_on_the_end_date(user_client, activator, sandbox, destination):
    audience = AudienceFactory(sandbox=sandbox)

    response = post(
        user_client,
        ACTIVATIONS_URL,
        {
            "destination": str(destination.pk),
            "audience": str(audience.pk),
            "start_date": "2030-06-01",
            "end_date": "2030-05-01",
        },
    )

    assert response.status_code == 400
    assert "end_date" in response.json()
    assert not AudienceActivation.objects.exists()


def test_an_activation_cannot_move_to_another_destination(user_client, activator, sandbox, destination):
    activation = ActivationFactory(destination=destination)
    other = DestinationFactory(datastream__sandbox=sandbox)

    response = user_client.patch(
        reverse("api:activation-detail", args=[activation.pk]),
        {"destination": str(other.pk)},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "cannot change" in response.json()["destination"][0]
    activation.refresh_from_db()
    assert activation.destination == destination


def test_activations_can_be_filtered_by_destination(user_client, activator, sandbox, destination):
    mine = ActivationFactory(destination=destination)
    ActivationFactory(destination__datastream__sandbox=sandbox)

    body = user_client.get(ACTIVATIONS_URL, {"destination": str(destination.pk)}).json()

    assert [item["id"] for item in body["results"]] == [mine.pk]


#
# Attribute mappings
#


class TestAttributeMappingEndpoints(
    APIViewTestCases.ListView,
    APIViewTestCases.RetrieveView,
    APIViewTestCases.CreateView,
    APIViewTestCases.UpdateView,
    APIViewTestCases.DeleteView,
):
    basename = "attribute-mapping"
    view_permission = perms.VIEW_DESTINATIONS
    change_permission = perms.ACTIVATE_DESTINATIONS
    # Mapping is part of activating: View Profiles and View Segments too (spec §11).
    extra_permissions = (perms.VIEW_PROFILES, perms.VIEW_SEGMENTS)

    def make_object(self, sandbox):
        return MappingFactory(destination__datastream__sandbox=sandbox)

    def create_data(self, sandbox):
        destination = DestinationFactory(datastream__sandbox=sandbox, kind=Destination.Kind.WITH_ATTRIBUTES)
        return {
            "destination": str(destination.pk),
            "source": ProfileFieldFactory(sandbox=sandbox).pk,
            "target": "country",
        }

    def update_data(self, sandbox):
        return {"target": "countryCode"}


@pytest.fixture
def mapper(user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_DESTINATIONS, perms.ACTIVATE_DESTINATIONS, perms.VIEW_PROFILES, perms.VIEW_SEGMENTS)
    return user


@pytest.fixture
def attributes_destination(sandbox):
    return DestinationFactory(datastream__sandbox=sandbox, name="Server side", kind=Destination.Kind.WITH_ATTRIBUTES)


def mapping_data(destination, source, target="country"):
    return {"destination": str(destination.pk), "source": source.pk, "target": target}


def test_a_mapping_on_a_destination_without_attributes_is_refused_on_the_destination(
    user_client, mapper, sandbox, destination
):
    field = ProfileFieldFactory(sandbox=sandbox)

    response = post(user_client, MAPPINGS_URL, mapping_data(destination, field))

    assert response.status_code == 400
    assert "only the With Attributes kind maps attributes" in response.json()["destination"][0]
    assert not AttributeMapping.objects.exists()


def test_a_non_scalar_source_field_is_refused_on_the_source(user_client, mapper, sandbox, attributes_destination):
    interests = ProfileFieldFactory(sandbox=sandbox, path="interests", field_type=ProfileField.FieldType.ARRAY)

    response = post(user_client, MAPPINGS_URL, mapping_data(attributes_destination, interests))

    assert response.status_code == 400
    assert "interests is a field of type array; only scalar fields can be mapped" in response.json()["source"][0]
    assert not AttributeMapping.objects.exists()


def test_the_31st_mapping_of_a_destination_is_refused_on_the_destination(
    user_client, mapper, sandbox, attributes_destination
):
    # given
    MappingFactory.create_batch(30, destination=attributes_destination)
    field = ProfileFieldFactory(sandbox=sandbox)
    # when
    response = post(user_client, MAPPINGS_URL, mapping_data(attributes_destination, field, target="one_too_many"))
    # then
    assert response.status_code == 400
    assert "the maximum is 30" in response.json()["destination"][0]
    assert AttributeMapping.objects.count() == 30


def test_a_target_name_used_twice_on_a_destination_is_refused_on_the_target(
    user_client, mapper, sandbox, attributes_destination
):
    MappingFactory(destination=attributes_destination, target="country")
    field = ProfileFieldFactory(sandbox=sandbox)

    response = post(user_client, MAPPINGS_URL, mapping_data(attributes_destination, field, target="country"))

    assert response.status_code == 400
    assert "already maps a field to this target name" in response.json()["target"][0]
    assert AttributeMapping.objects.count() == 1


def test_a_source_field_of_another_sandbox_is_refused_on_the_source(
    user_client, mapper, other_sandbox, grant, attributes_destination
):
    grant(mapper, other_sandbox, perms.VIEW_PROFILES)
    foreign = ProfileFieldFactory(sandbox=other_sandbox)

    response = post(user_client, MAPPINGS_URL, mapping_data(attributes_destination, foreign))

    assert response.status_code == 400
    assert "another sandbox" in response.json()["source"][0]
    assert not AttributeMapping.objects.exists()


def test_activating_without_mapping_does_not_allow_changing_mappings(
    user_client, user, sandbox, grant, attributes_destination
):
    # given
    grant(
        user,
        sandbox,
        perms.VIEW_DESTINATIONS,
        perms.ACTIVATE_SEGMENTS_WITHOUT_MAPPING,
        perms.VIEW_PROFILES,
        perms.VIEW_SEGMENTS,
    )
    field = ProfileFieldFactory(sandbox=sandbox)
    # when
    response = post(user_client, MAPPINGS_URL, mapping_data(attributes_destination, field))
    # then
    assert response.status_code == 403
    assert not AttributeMapping.objects.exists()


def test_mappings_can_be_filtered_by_destination(user_client, mapper, sandbox, attributes_destination):
    mine = MappingFactory(destination=attributes_destination)
    MappingFactory(destination__datastream__sandbox=sandbox)

    body = user_client.get(MAPPINGS_URL, {"destination": str(attributes_destination.pk)}).json()

    assert [item["id"] for item in body["results"]] == [mine.pk]
