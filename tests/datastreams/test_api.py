import pytest

from django.urls import reverse

from accounts import constants as perms
from personalization.datastreams.models import Datastream
from tests.factories import DatastreamFactory, DestinationFactory
from tests.utils.permissions import APIViewTestCases

pytestmark = pytest.mark.django_db

LIST_URL = reverse("api:datastream-list")


def detail_url(datastream):
    return reverse("api:datastream-detail", args=[datastream.pk])


class TestDatastreamEndpoints(
    APIViewTestCases.ListView,
    APIViewTestCases.RetrieveView,
    APIViewTestCases.CreateView,
    APIViewTestCases.UpdateView,
    APIViewTestCases.DeleteView,
):
    basename = "datastream"
    view_permission = perms.VIEW_DATASTREAMS
    change_permission = perms.MANAGE_DATASTREAMS

    def make_object(self, sandbox):
        return DatastreamFactory(sandbox=sandbox)

    def create_data(self, sandbox):
        return {"sandbox": sandbox.name, "name": "Website", "allowed_origins": ["https://www.example.com"]}

    def update_data(self, sandbox):
        return {"description": "Serves the shop"}


@pytest.fixture
def manager(user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_DATASTREAMS, perms.MANAGE_DATASTREAMS)
    return user


def test_a_created_datastream_is_returned_with_its_id_and_sandbox_name(user_client, manager, sandbox):
    # when
    response = user_client.post(
        LIST_URL,
        {"sandbox": "alpha", "name": "Website", "personalization_destinations": True},
        content_type="application/json",
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    datastream = Datastream.objects.get(pk=body["id"])
    assert body["sandbox"] == "alpha"
    assert datastream.sandbox == sandbox
    assert body["personalization_destinations"] is True
    assert body["access_type"] == "mixed"


def test_a_second_datastream_with_the_same_name_in_the_sandbox_is_refused_on_the_name(user_client, manager, sandbox):
    # given
    DatastreamFactory(sandbox=sandbox, name="Website")
    # when
    response = user_client.post(LIST_URL, {"sandbox": "alpha", "name": "Website"}, content_type="application/json")
    # then
    assert response.status_code == 400
    assert "already exists in this sandbox" in response.json()["name"][0]
    assert Datastream.objects.count() == 1


def test_an_allowed_origin_with_a_path_is_refused_on_allowed_origins(user_client, manager):
    response = user_client.post(
        LIST_URL,
        {"sandbox": "alpha", "name": "Website", "allowed_origins": ["https://www.example.com/shop"]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "allowed_origins" in response.json()
    assert not Datastream.objects.exists()


def test_a_datastream_cannot_move_to_another_sandbox(user_client, manager, sandbox, other_sandbox, grant):
    # given
    grant(manager, other_sandbox, perms.VIEW_DATASTREAMS, perms.MANAGE_DATASTREAMS)
    datastream = DatastreamFactory(sandbox=sandbox)
    # when
    response = user_client.patch(detail_url(datastream), {"sandbox": "beta"}, content_type="application/json")
    # then
    assert response.status_code == 400
    assert "cannot change" in response.json()["sandbox"][0]
    datastream.refresh_from_db()
    assert datastream.sandbox == sandbox


def test_resending_the_same_sandbox_on_update_is_accepted(user_client, manager, sandbox):
    datastream = DatastreamFactory(sandbox=sandbox)

    response = user_client.put(
        detail_url(datastream), {"sandbox": "alpha", "name": "Renamed"}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    datastream.refresh_from_db()
    assert datastream.name == "Renamed"


def test_deleting_a_datastream_that_destinations_answer_on_is_refused_and_names_them(user_client, manager, sandbox):
    # given
    datastream = DatastreamFactory(sandbox=sandbox)
    DestinationFactory(datastream=datastream, name="Homepage banner")
    # when
    response = user_client.delete(detail_url(datastream))
    # then
    assert response.status_code == 400
    assert "Homepage banner" in response.json()["non_field_errors"][0]
    assert Datastream.objects.filter(pk=datastream.pk).exists()


def test_datastreams_can_be_filtered_by_the_shared_filterset(user_client, manager, sandbox):
    # given
    DatastreamFactory(sandbox=sandbox, name="Shop", personalization_destinations=True)
    DatastreamFactory(sandbox=sandbox, name="Blog", personalization_destinations=False)
    # when
    eligible = user_client.get(LIST_URL, {"personalization_destinations": "true"}).json()
    searched = user_client.get(LIST_URL, {"q": "blo"}).json()
    # then
    assert [item["name"] for item in eligible["results"]] == ["Shop"]
    assert [item["name"] for item in searched["results"]] == ["Blog"]
