import pytest

from django.urls import reverse

from accounts import constants as perms
from personalization.audiences.models import Audience
from tests.factories import ActivationFactory, AudienceFactory, ProfileFieldFactory
from tests.utils.permissions import APIViewTestCases

pytestmark = pytest.mark.django_db

LIST_URL = reverse("api:audience-list")


class TestAudienceEndpoints(
    APIViewTestCases.ListView,
    APIViewTestCases.RetrieveView,
    APIViewTestCases.CreateView,
    APIViewTestCases.UpdateView,
    APIViewTestCases.DeleteView,
):
    basename = "audience"
    view_permission = perms.VIEW_SEGMENTS
    change_permission = perms.MANAGE_SEGMENTS

    def make_object(self, sandbox):
        return AudienceFactory(sandbox=sandbox)

    def create_data(self, sandbox):
        ProfileFieldFactory(sandbox=sandbox, path="loyalty.tier")
        return {
            "sandbox": sandbox.name,
            "name": "Frequent buyers",
            "rule": {"all": [{"field": "loyalty.tier", "op": "equals", "value": "gold"}]},
        }

    def update_data(self, sandbox):
        return {"description": "Bought three times this quarter"}


@pytest.fixture
def segment_manager(user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_SEGMENTS, perms.MANAGE_SEGMENTS)
    return user


def test_a_new_audience_is_a_draft_created_by_the_caller(user_client, segment_manager):
    response = user_client.post(LIST_URL, {"sandbox": "alpha", "name": "Visitors"}, content_type="application/json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["created_by"] == "member"
    assert body["profile_count"] == 0


def test_a_segmentation_audience_with_an_expiry_is_refused_on_expires_at(user_client, segment_manager):
    response = user_client.post(
        LIST_URL,
        {"sandbox": "alpha", "name": "Visitors", "expires_at": "2030-01-01T00:00:00Z"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "Only custom upload audiences expire" in response.json()["expires_at"][0]
    assert not Audience.objects.exists()


def test_a_custom_upload_audience_with_a_rule_is_refused_on_the_rule(user_client, segment_manager):
    response = user_client.post(
        LIST_URL,
        {"sandbox": "alpha", "name": "CRM list", "origin": "custom_upload", "rule": {"all": []}},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "rule" in response.json()
    assert not Audience.objects.exists()


def test_a_duplicate_audience_name_is_refused_on_the_name(user_client, segment_manager, sandbox):
    AudienceFactory(sandbox=sandbox, name="Visitors")

    response = user_client.post(LIST_URL, {"sandbox": "alpha", "name": "Visitors"}, content_type="application/json")

    assert response.status_code == 400
    assert "already exists in this sandbox" in response.json()["name"][0]
    assert Audience.objects.count() == 1


def test_an_activated_audience_cannot_be_deleted(user_client, segment_manager, sandbox):
    # given
    activation = ActivationFactory(destination__datastream__sandbox=sandbox, destination__name="Homepage")
    # when
    response = user_client.delete(reverse("api:audience-detail", args=[activation.audience.pk]))
    # then
    assert response.status_code == 400
    assert "Homepage" in response.json()["non_field_errors"][0]
    assert Audience.objects.filter(pk=activation.audience.pk).exists()


def test_audiences_can_be_filtered_by_status(user_client, segment_manager, sandbox):
    AudienceFactory(sandbox=sandbox, name="Live", status=Audience.Status.PUBLISHED)
    AudienceFactory(sandbox=sandbox, name="Idea", status=Audience.Status.DRAFT)

    body = user_client.get(LIST_URL, {"status": "draft"}).json()

    assert [item["name"] for item in body["results"]] == ["Idea"]
