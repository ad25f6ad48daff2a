import datetime
import json

from django.utils import timezone

from accounts.constants import MANAGE_SEGMENTS, VIEW_DESTINATIONS, VIEW_SEGMENTS
from personalization.audiences.models import Audience, AudienceMembership
from tests.factories import ActivationFactory, AudienceFactory, MembershipFactory, ProfileFieldFactory
from tests.utils.permissions import UIViewTestCases


class TestAudienceViews(
    UIViewTestCases.ListView, UIViewTestCases.DetailView, UIViewTestCases.CreateView, UIViewTestCases.EditView
):
    url_namespace = "audiences"
    url_model = "audience"
    view_permission = VIEW_SEGMENTS
    change_permission = MANAGE_SEGMENTS

    def form_data(self, sandbox):
        rule = {"all": [{"field": "loyalty.status", "op": "equals", "value": "gold"}]}
        return {"name": "Gold members", "description": "", "evaluation": "batch", "rule": json.dumps(rule)}

    def make_object(self, sandbox):
        ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
        return AudienceFactory(
            sandbox=sandbox,
            name="Frequent buyers of %s" % sandbox.name,
            description="Bought three times this quarter",
            rule={"all": [{"attribute": "loyalty.tier", "op": "eq", "value": "gold"}]},
        )

    def test_list_filters_by_origin_status_and_search(self):
        AudienceFactory(
            sandbox=self.sandbox_a,
            name="Uploaded VIPs",
            origin=Audience.Origin.CUSTOM_UPLOAD,
            status=Audience.Status.DRAFT,
        )
        self.grant_view()
        by_origin = self.client.get(self.url("list"), {"origin": "custom_upload"}).context["object_list"]
        by_status = self.client.get(self.url("list"), {"status": "published"}).context["object_list"]
        by_search = self.client.get(self.url("list"), {"q": "vip"}).context["object_list"]
        assert [a.name for a in by_origin] == ["Uploaded VIPs"]
        assert [a.name for a in by_status] == [self.obj_a.name]
        assert [a.name for a in by_search] == ["Uploaded VIPs"]

    def test_an_unknown_filter_value_is_reported_and_ignored(self):
        self.grant_view()
        response = self.client.get(self.url("list"), {"status": "bogus"})
        assert response.status_code == 200
        assert self.obj_a in response.context["object_list"]
        assert "status" in response.context["filter_form"].errors

    def test_detail_shows_rule_counts_expiry_and_destinations(self):
        # given
        for status in ("realized", "realized", "existing"):
            MembershipFactory(audience=self.obj_a, status=status)
        MembershipFactory(audience=self.obj_a, status=AudienceMembership.Status.EXITED, exited_at=timezone.now())
        ActivationFactory(
            audience=self.obj_a,
            destination__datastream__sandbox=self.sandbox_a,
            destination__name="Homepage hero",
            start_date=datetime.date(2025, 1, 1),
        )
        self.grant_view()
        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS)  # destinations are their own domain
        # when
        response = self.client.get(self.url("detail", self.obj_a))
        content = response.content.decode()
        # then
        assert response.context["membership_counts"] == {"realized": 2, "existing": 1, "exited": 1}
        assert "Bought three times this quarter" in content
        assert "&quot;loyalty.tier&quot;" in content
        assert "Homepage hero" in content and "2025-01-01" in content
        assert "Never" in content

    def test_a_custom_upload_shows_its_expiry(self):
        upload = AudienceFactory(
            sandbox=self.sandbox_a,
            origin=Audience.Origin.CUSTOM_UPLOAD,
            expires_at=timezone.now() - datetime.timedelta(days=1),
        )
        self.grant_view()
        content = self.client.get(self.url("detail", upload)).content.decode()
        assert "Expired" in content

    def test_destination_links_need_view_destinations(self):
        activation = ActivationFactory(audience=self.obj_a, destination__datastream__sandbox=self.sandbox_a)
        self.grant_view()
        url = activation.destination.get_absolute_url()
        assert url not in self.client.get(self.url("detail", self.obj_a)).content.decode()
        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS)
        assert url in self.client.get(self.url("detail", self.obj_a)).content.decode()
