import pytest

from django.urls import reverse

from accounts.constants import MANAGE_PROFILES, VIEW_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS
from personalization.audiences.models import AudienceMembership
from personalization.profiles.models import ProfileField
from tests.factories import (
    IdentityFactory,
    IdentityNamespaceFactory,
    LabelFactory,
    MappingFactory,
    MembershipFactory,
    ProfileFactory,
    ProfileFieldFactory,
)
from tests.utils.permissions import UIViewTestCases

#
# Profile fields
#


class TestProfileFieldViews(
    UIViewTestCases.ListView,
    UIViewTestCases.DetailView,
    UIViewTestCases.CreateView,
    UIViewTestCases.EditView,
    UIViewTestCases.DeleteView,
):
    url_namespace = "profiles"
    url_model = "profilefield"
    view_permission = VIEW_PROFILES
    change_permission = MANAGE_PROFILES

    def make_object(self, sandbox):
        return ProfileFieldFactory(sandbox=sandbox, path="%s.loyaltyTier" % sandbox.name)

    def form_data(self, sandbox):
        return {"path": "homeAddress.countryCode", "field_type": ProfileField.FieldType.STRING, "description": ""}

    def test_an_overlapping_path_is_reported_on_the_path_field(self):
        # given: alpha.loyaltyTier exists, so alpha cannot also hold a value
        self.grant_change()
        # when
        response = self.client.post(self.url("create"), {"path": "alpha", "field_type": "string"})
        # then
        assert response.status_code == 200
        assert "overlaps the existing field alpha.loyaltyTier" in str(response.context["form"].errors["path"])
        assert not ProfileField.objects.filter(path="alpha").exists()

    def test_a_duplicate_path_is_reported_on_the_path_field(self):
        self.grant_change()
        response = self.client.post(self.url("create"), {"path": self.obj_a.path, "field_type": "string"})
        assert "already has a profile field with this path" in str(response.context["form"].errors["path"])

    def test_the_same_path_in_another_sandbox_does_not_overlap(self):
        self.grant_change()
        response = self.client.post(self.url("create"), {"path": "beta", "field_type": "string"})
        assert response.status_code == 302
        assert ProfileField.objects.get(path="beta").sandbox == self.sandbox_a

    def test_changing_the_type_of_a_mapped_field_is_refused_on_the_type_field(self):
        MappingFactory(destination__datastream__sandbox=self.sandbox_a, source=self.obj_a, target="tier")
        self.grant_change()
        response = self.client.post(self.url("edit", self.obj_a), {"path": self.obj_a.path, "field_type": "number"})
        assert response.status_code == 200
        assert "tier" in str(response.context["form"].errors["field_type"])

    def test_detail_shows_labels_and_the_mappings_that_use_the_field(self):
        label = LabelFactory(sandbox=self.sandbox_a, code="X9", name="No onsite use")
        label.fields.add(self.obj_a)
        MappingFactory(
            destination__datastream__sandbox=self.sandbox_a, destination__name="Hero", source=self.obj_a, target="tier"
        )
        self.grant_view()
        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS)  # destinations are their own domain
        content = self.client.get(self.url("detail", self.obj_a)).content.decode()
        assert "X9" in content and "No onsite use" in content
        assert "Hero" in content and "tier" in content

    def test_deleting_a_mapped_field_is_refused_naming_the_destination(self):
        MappingFactory(destination__datastream__sandbox=self.sandbox_a, destination__name="Hero", source=self.obj_a)
        self.grant_change()
        response = self.client.post(self.url("delete", self.obj_a))
        assert response.status_code == 200
        assert "Hero" in " ".join(response.context["refusal"])
        assert ProfileField.objects.filter(pk=self.obj_a.pk).exists()


#
# Profiles
#


class TestProfileViews(UIViewTestCases.ListView, UIViewTestCases.DetailView):
    url_namespace = "profiles"
    url_model = "profile"
    view_permission = VIEW_PROFILES

    def make_object(self, sandbox):
        profile = ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"tier": "gold"}})
        IdentityFactory(profile=profile, value="ecid-%s" % sandbox.name, primary=True)
        return profile

    def test_search_by_identity_value_finds_the_profile(self):
        other = ProfileFactory(sandbox=self.sandbox_a)
        IdentityFactory(profile=other, value="someone-else")
        self.grant_view()
        response = self.client.get(self.url("list"), {"identity": "ecid-alpha"})
        assert list(response.context["object_list"]) == [self.obj_a]

    def test_the_namespace_narrows_the_search(self):
        # given: the same value in two namespaces, on two profiles
        email = IdentityNamespaceFactory(sandbox=self.sandbox_a, code="Email")
        by_email = ProfileFactory(sandbox=self.sandbox_a)
        IdentityFactory(profile=by_email, namespace=email, value="ecid-alpha")
        self.grant_view()
        # when
        both = self.client.get(self.url("list"), {"identity": "ecid-alpha"}).context["object_list"]
        ecid_only = self.client.get(self.url("list"), {"identity": "ecid-alpha", "namespace": "ECID"})
        # then
        assert set(both) == {self.obj_a, by_email}
        assert list(ecid_only.context["object_list"]) == [self.obj_a]
        assert by_email.pk.hex not in ecid_only.content.decode().replace("-", "")

    def test_search_never_reaches_another_sandbox(self):
        self.grant_view()
        response = self.client.get(self.url("list"), {"identity": "ecid-beta"})
        assert list(response.context["object_list"]) == []
        assert "No profile has this identity" in response.content.decode()

    def test_the_namespace_picker_offers_only_the_current_sandboxs_namespaces(self):
        IdentityNamespaceFactory(sandbox=self.sandbox_b, code="BetaOnly")
        self.grant_view()
        content = self.client.get(self.url("list")).content.decode()
        assert '<option value="ECID"' in content
        assert "BetaOnly" not in content

    def test_the_list_is_paginated(self):
        for _ in range(55):
            ProfileFactory(sandbox=self.sandbox_a)
        self.grant_view()
        first = self.client.get(self.url("list"))
        second = self.client.get(self.url("list"), {"page": 2})
        assert len(first.context["object_list"]) == 50
        assert len(second.context["object_list"]) == 6
        assert "?page=2" in first.content.decode()

    def test_the_list_runs_the_same_queries_for_few_or_many_profiles(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.grant_view()
        counts = []
        for _ in range(2):
            for _ in range(10):
                IdentityFactory(profile=ProfileFactory(sandbox=self.sandbox_a))
            with CaptureQueriesContext(connection) as queries:
                self.client.get(self.url("list"))
            counts.append(len(queries))
        assert counts[0] == counts[1]

    def test_detail_shows_identities_attributes_and_memberships(self):
        membership = MembershipFactory(
            audience__sandbox=self.sandbox_a, audience__name="Gold members", profile=self.obj_a
        )
        MembershipFactory(
            audience__sandbox=self.sandbox_a,
            audience__name="Lapsed",
            profile=self.obj_a,
            status=AudienceMembership.Status.EXITED,
            exited_at=membership.qualified_at,
        )
        self.grant_view()
        self._grant(self.user, self.sandbox_a, VIEW_SEGMENTS)  # audiences are their own domain
        content = self.client.get(self.url("detail", self.obj_a)).content.decode()
        assert "ecid-alpha" in content and "ECID" in content
        assert "&quot;tier&quot;: &quot;gold&quot;" in content
        assert "Gold members" in content and "Realized" in content
        assert "Lapsed" in content and "Exited" in content
        assert membership.audience.get_absolute_url() in content

    def test_detail_without_view_segments_names_no_audience_and_says_why(self):
        membership = MembershipFactory(
            audience__sandbox=self.sandbox_a, audience__name="Gold members", profile=self.obj_a
        )
        self.grant_view()
        content = self.client.get(self.url("detail", self.obj_a)).content.decode()
        assert "Gold members" not in content
        assert membership.audience.get_absolute_url() not in content
        assert "shown to roles with View Segments" in content

    def test_there_is_no_page_to_create_profiles(self):
        self.grant_view()
        assert "/profiles/new/" not in self.client.get(self.url("list")).content.decode()


@pytest.mark.django_db
def test_profile_detail_links_audiences_for_segment_viewers(user_client, user, sandbox, grant):
    membership = MembershipFactory(audience__sandbox=sandbox)
    grant(user, sandbox, VIEW_PROFILES, VIEW_SEGMENTS)
    response = user_client.get(reverse("profiles:profile_detail", args=[membership.profile.pk]))
    assert membership.audience.get_absolute_url() in response.content.decode()
