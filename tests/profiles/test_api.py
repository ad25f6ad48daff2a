import pytest

from django.urls import reverse
from django.utils import timezone

from accounts import constants as perms
from personalization.audiences.models import AudienceMembership
from personalization.profiles.models import IdentityNamespace, ProfileField
from tests.factories import (
    AudienceFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    MappingFactory,
    MembershipFactory,
    ProfileFactory,
    ProfileFieldFactory,
)
from tests.utils.permissions import APIViewTestCases

pytestmark = pytest.mark.django_db

FIELDS_URL = reverse("api:profile-field-list")
NAMESPACES_URL = reverse("api:identity-namespace-list")
PROFILES_URL = reverse("api:profile-list")


#
# Profile fields
#


class TestProfileFieldEndpoints(
    APIViewTestCases.ListView,
    APIViewTestCases.RetrieveView,
    APIViewTestCases.CreateView,
    APIViewTestCases.UpdateView,
    APIViewTestCases.DeleteView,
):
    basename = "profile-field"
    view_permission = perms.VIEW_PROFILES
    change_permission = perms.MANAGE_PROFILES

    def make_object(self, sandbox):
        return ProfileFieldFactory(sandbox=sandbox)

    def create_data(self, sandbox):
        return {"sandbox": sandbox.name, "path": "homeAddress.countryCode", "field_type": "string"}

    def update_data(self, sandbox):
        return {"description": "ISO 3166 country code"}


@pytest.fixture
def profile_manager(user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_PROFILES, perms.MANAGE_PROFILES)
    return user


def test_a_path_that_would_hold_a_value_and_children_is_refused_on_the_path(user_client, profile_manager, sandbox):
    # given
    ProfileFieldFactory(sandbox=sandbox, path="loyalty")
    # when
    response = user_client.post(
        FIELDS_URL, {"sandbox": "alpha", "path": "loyalty.status"}, content_type="application/json"
    )
    # then
    assert response.status_code == 400
    assert "overlaps the existing field loyalty" in response.json()["path"][0]
    assert ProfileField.objects.count() == 1


def test_a_duplicate_path_is_refused_on_the_path(user_client, profile_manager, sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="person.name")

    response = user_client.post(
        FIELDS_URL, {"sandbox": "alpha", "path": "person.name"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "already has a profile field with this path" in response.json()["path"][0]
    assert ProfileField.objects.count() == 1


def test_a_mapped_field_cannot_change_its_type(user_client, profile_manager, sandbox, grant):
    # given
    mapping = MappingFactory(destination__datastream__sandbox=sandbox, target="country")
    # when
    response = user_client.patch(
        reverse("api:profile-field-detail", args=[mapping.source.pk]),
        {"field_type": "number"},
        content_type="application/json",
    )
    # then
    assert response.status_code == 400
    assert "country" in response.json()["field_type"][0]
    mapping.source.refresh_from_db()
    assert mapping.source.field_type == "string"


def test_a_profile_field_lists_its_labels_and_whether_it_can_be_mapped(user_client, profile_manager, sandbox):
    field = ProfileFieldFactory(sandbox=sandbox, path="interests", field_type=ProfileField.FieldType.ARRAY)

    body = user_client.get(reverse("api:profile-field-detail", args=[field.pk])).json()

    assert body["is_scalar"] is False
    assert body["labels"] == []


#
# Identity namespaces
#


class TestIdentityNamespaceEndpoints(
    APIViewTestCases.ListView,
    APIViewTestCases.RetrieveView,
    APIViewTestCases.CreateView,
    APIViewTestCases.UpdateView,
    APIViewTestCases.DeleteView,
):
    basename = "identity-namespace"
    view_permission = perms.VIEW_PROFILES
    change_permission = perms.MANAGE_PROFILES

    def make_object(self, sandbox):
        return IdentityNamespaceFactory(sandbox=sandbox, code="ECID")

    def create_data(self, sandbox):
        return {"sandbox": sandbox.name, "code": "CRMID", "name": "CRM id"}

    def update_data(self, sandbox):
        return {"name": "Experience Cloud ID"}


def test_a_namespace_code_already_used_in_the_sandbox_is_refused_on_the_code(user_client, profile_manager, sandbox):
    IdentityNamespaceFactory(sandbox=sandbox, code="Email")

    response = user_client.post(
        NAMESPACES_URL, {"sandbox": "alpha", "code": "Email", "name": "E-mail"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "already has an identity namespace with this code" in response.json()["code"][0]
    assert IdentityNamespace.objects.count() == 1


def test_a_namespace_in_use_cannot_be_deleted(user_client, profile_manager, sandbox):
    identity = IdentityFactory(profile__sandbox=sandbox)

    response = user_client.delete(reverse("api:identity-namespace-detail", args=[identity.namespace.pk]))

    assert response.status_code == 400
    assert "cannot be deleted" in response.json()["non_field_errors"][0]
    assert IdentityNamespace.objects.filter(pk=identity.namespace.pk).exists()


#
# Profiles
#


class TestProfileEndpoints(APIViewTestCases.ListView, APIViewTestCases.RetrieveView):
    basename = "profile"
    view_permission = perms.VIEW_PROFILES

    def make_object(self, sandbox):
        return ProfileFactory(sandbox=sandbox)


@pytest.fixture
def profile_viewer(user, sandbox, grant):
    grant(user, sandbox, perms.VIEW_PROFILES)
    return user


def test_profiles_are_read_only(user_client, profile_manager, sandbox):
    profile = ProfileFactory(sandbox=sandbox)

    assert user_client.post(PROFILES_URL, {}, content_type="application/json").status_code == 405
    assert user_client.delete(reverse("api:profile-detail", args=[profile.pk])).status_code == 405


def test_a_profile_shows_its_identities_attributes_and_current_audiences(user_client, profile_viewer, sandbox, grant):
    # given: audience names need View Segments besides View Profiles
    grant(profile_viewer, sandbox, perms.VIEW_SEGMENTS)
    profile = ProfileFactory(sandbox=sandbox, attributes={"homeAddress": {"countryCode": "DE"}})
    IdentityFactory(profile=profile, value="ecid-1", primary=True)
    IdentityFactory(
        profile=profile, namespace=IdentityNamespaceFactory(sandbox=sandbox, code="Email"), value="a@example.com"
    )
    MembershipFactory(profile=profile, audience=AudienceFactory(sandbox=sandbox, name="Shoppers"))
    MembershipFactory(
        profile=profile,
        audience=AudienceFactory(sandbox=sandbox, name="Lapsed"),
        status=AudienceMembership.Status.EXITED,
        exited_at=timezone.now(),
    )
    # when
    body = user_client.get(reverse("api:profile-detail", args=[profile.pk])).json()
    # then
    assert body["sandbox"] == "alpha"
    assert body["attributes"] == {"homeAddress": {"countryCode": "DE"}}
    assert {(i["namespace"], i["value"], i["primary"]) for i in body["identities"]} == {
        ("ECID", "ecid-1", True),
        ("Email", "a@example.com", False),
    }
    assert [(m["audience_name"], m["status"]) for m in body["memberships"]] == [("Shoppers", "realized")]


def test_a_profile_is_found_by_identity_value_and_namespace(user_client, profile_viewer, sandbox):
    # given
    wanted = IdentityFactory(profile__sandbox=sandbox, value="12345").profile
    IdentityFactory(profile__sandbox=sandbox, value="67890")
    # when
    found = user_client.get(PROFILES_URL, {"identity": "12345", "namespace": "ECID"}).json()
    # then
    assert [item["id"] for item in found["results"]] == [str(wanted.pk)]


def test_identity_search_is_case_sensitive_like_the_lookup(user_client, profile_viewer, sandbox):
    IdentityFactory(profile__sandbox=sandbox, value="AbC")

    found = user_client.get(PROFILES_URL, {"identity": "abc", "namespace": "ECID"}).json()

    assert found["results"] == []


def test_searching_in_an_unknown_namespace_is_refused_on_the_namespace(user_client, profile_viewer, sandbox):
    # given
    IdentityFactory(profile__sandbox=sandbox, value="12345")
    # when
    response = user_client.get(PROFILES_URL, {"identity": "12345", "namespace": "ecid"})
    # then
    assert response.status_code == 400
    message = response.json()["namespace"][0]
    assert "ecid" in message
    assert "Known: ECID" in message


def test_a_namespace_of_a_sandbox_the_user_cannot_see_is_unknown(user_client, profile_viewer, other_sandbox):
    IdentityNamespaceFactory(sandbox=other_sandbox, code="CRMID")

    response = user_client.get(PROFILES_URL, {"identity": "1", "namespace": "CRMID"})

    assert response.status_code == 400
    assert "CRMID" not in response.json()["namespace"][0].split("Known:")[1]


def test_listing_profiles_takes_a_fixed_number_of_queries(
    user_client, profile_viewer, sandbox, django_assert_max_num_queries
):
    for _index in range(10):
        profile = IdentityFactory(profile__sandbox=sandbox).profile
        MembershipFactory(profile=profile, audience=AudienceFactory(sandbox=sandbox))

    with django_assert_max_num_queries(10):
        response = user_client.get(PROFILES_URL)

    assert len(response.json()["results"]) == 10
