import datetime

import pytest

from django.urls import NoReverseMatch, reverse

from accounts.constants import VIEW_DATASTREAMS, VIEW_DESTINATIONS
from personalization.destinations.models import Destination
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    MappingFactory,
    MarketingActionFactory,
    ProfileFieldFactory,
)
from tests.utils.permissions import UIViewTestCases


class TestDestinationViews(UIViewTestCases.ListView, UIViewTestCases.DetailView):
    url_namespace = "destinations"
    url_model = "destination"
    view_permission = VIEW_DESTINATIONS

    def make_object(self, sandbox):
        return DestinationFactory(datastream__sandbox=sandbox, name="Hero banner in %s" % sandbox.name)

    def test_list_shows_datastream_alias_activation_count_and_status(self):
        ActivationFactory(destination=self.obj_a)
        ActivationFactory(destination=self.obj_a)
        DestinationFactory(datastream=self.obj_a.datastream, name="Paused one", enabled=False)
        self.grant_view()
        response = self.client.get(self.url("list"))
        content = response.content.decode()
        row = next(d for d in response.context["object_list"] if d.pk == self.obj_a.pk)
        assert row.activation_count == 2
        assert self.obj_a.datastream.name in content and self.obj_a.alias in content
        assert "Enabled" in content and "Disabled" in content

    def test_the_datastream_filter_offers_only_the_current_sandboxs_datastreams(self):
        self.grant_view()
        self.grant_view(self.sandbox_b)
        response = self.client.get(self.url("list"))
        choices = list(response.context["filter_form"].fields["datastream"].queryset)
        assert choices == [self.obj_a.datastream]
        # A datastream of another sandbox is not a valid filter value, so it filters nothing.
        response = self.client.get(self.url("list"), {"datastream": self.obj_b.datastream.pk})
        assert "datastream" in response.context["filter_form"].errors

    def test_the_list_filters_by_datastream(self):
        other = DestinationFactory(datastream=DatastreamFactory(sandbox=self.sandbox_a), name="Elsewhere")
        self.grant_view()
        response = self.client.get(self.url("list"), {"datastream": other.datastream.pk})
        assert list(response.context["object_list"]) == [other]

    def test_detail_shows_connection_actions_activations_and_mappings(self):
        # given
        destination = DestinationFactory(
            datastream__sandbox=self.sandbox_a, kind=Destination.Kind.WITH_ATTRIBUTES, alias="heroAlias"
        )
        destination.marketing_actions.add(MarketingActionFactory(sandbox=self.sandbox_a, name="Onsite Personalization"))
        ActivationFactory(
            destination=destination,
            audience=AudienceFactory(sandbox=self.sandbox_a, name="Gold members"),
            start_date=datetime.date(2025, 3, 1),
            end_date=datetime.date(2025, 4, 30),
        )
        MappingFactory(
            destination=destination,
            source=ProfileFieldFactory(sandbox=self.sandbox_a, path="loyalty.tier"),
            target="tier",
        )
        self.grant_view()
        # when
        content = self.client.get(self.url("detail", destination)).content.decode()
        # then
        assert "heroAlias" in content and destination.datastream.name in content
        assert "Onsite Personalization" in content
        assert "Gold members" in content and "2025-03-01" in content and "2025-04-30" in content
        assert "loyalty.tier" in content and "tier" in content

    def test_the_datastream_links_only_for_datastream_viewers(self):
        self.grant_view()
        url = self.obj_a.datastream.get_absolute_url()
        assert url not in self.client.get(self.url("detail", self.obj_a)).content.decode()
        self._grant(self.user, self.sandbox_a, VIEW_DATASTREAMS)
        assert url in self.client.get(self.url("detail", self.obj_a)).content.decode()


@pytest.mark.parametrize("action", ["create", "edit", "delete"])
def test_destinations_have_no_write_pages_until_the_wizard_exists(action):
    with pytest.raises(NoReverseMatch):
        reverse("destinations:destination_%s" % action, args=[] if action == "create" else ["x"])
