import datetime

import pytest

from django.urls import reverse

from accounts.constants import (
    ACTIVATE_DESTINATIONS,
    ACTIVATE_SEGMENTS_WITHOUT_MAPPING,
    MANAGE_DESTINATIONS,
    VIEW_ALERTS,
    VIEW_DATASTREAMS,
    VIEW_DESTINATIONS,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from personalization.alerts.models import AlertSubscription
from personalization.destinations.models import Destination
from tests.factories import (
    ActivationFactory,
    AlertSubscriptionFactory,
    AudienceFactory,
    DataflowRunFactory,
    DatastreamFactory,
    DestinationFactory,
    MappingFactory,
    MarketingActionFactory,
    ProfileFieldFactory,
    UserFactory,
)
from tests.utils.permissions import UIViewTestCases

ACTIVATE = (VIEW_PROFILES, VIEW_SEGMENTS, ACTIVATE_DESTINATIONS)


class TestDestinationViews(
    UIViewTestCases.ListView, UIViewTestCases.DetailView, UIViewTestCases.EditView, UIViewTestCases.DeleteView
):
    url_namespace = "destinations"
    url_model = "destination"
    view_permission = VIEW_DESTINATIONS
    change_permission = MANAGE_DESTINATIONS

    def make_object(self, sandbox):
        return DestinationFactory(datastream__sandbox=sandbox, name="Hero banner in %s" % sandbox.name)

    def form_data(self, sandbox):
        return {"name": "Renamed", "description": "", "alias": "renamed", "datastream": self.obj_a.datastream.pk}

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
        # Audience names and profile field paths are other domains' objects: they need their view permissions.
        self._grant(self.user, self.sandbox_a, VIEW_SEGMENTS, VIEW_PROFILES)
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

    # Browse

    def test_browse_offers_each_row_only_the_actions_the_role_allows(self):
        self.grant_view()
        content = self.client.get(self.url("list")).content.decode()
        for name in ("activate", "edit", "delete", "enabled", "alerts"):
            assert reverse("destinations:destination_%s" % name, args=[self.obj_a.pk]) not in content, name
        assert 'role="switch"' not in content

        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS, MANAGE_DESTINATIONS, VIEW_ALERTS, *ACTIVATE)
        content = self.client.get(self.url("list")).content.decode()
        for name in ("activate", "edit", "delete", "enabled", "alerts"):
            assert reverse("destinations:destination_%s" % name, args=[self.obj_a.pk]) in content, name
        assert 'role="switch"' in content

    def test_browse_links_to_the_catalog_for_users_who_may_connect(self):
        self.grant_view()
        catalog = reverse("destinations:destination_catalog")
        assert "Connect a destination" not in self.client.get(self.url("list")).content.decode()
        self.grant_change()
        content = self.client.get(self.url("list")).content.decode()
        assert "Connect a destination" in content and catalog in content

    # Destination page

    def test_detail_shows_activation_buttons_only_with_the_activation_permissions(self):
        activate_url = reverse("destinations:destination_activate", args=[self.obj_a.pk])
        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS)
        assert activate_url not in self.client.get(self.url("detail", self.obj_a)).content.decode()
        self._grant(self.user, self.sandbox_a, ACTIVATE_SEGMENTS_WITHOUT_MAPPING)
        assert activate_url in self.client.get(self.url("detail", self.obj_a)).content.decode()

    def test_detail_calls_the_activation_wizard_activate_audiences_before_and_after_audiences_are_activated(self):
        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS, *ACTIVATE)
        assert "Activate audiences" in self.client.get(self.url("detail", self.obj_a)).content.decode()
        ActivationFactory(destination=self.obj_a)
        page = self.client.get(self.url("detail", self.obj_a)).content.decode()
        assert "Activate audiences" in page and "Edit activation" not in page

    def test_detail_lists_the_dataflow_runs_and_the_users_own_alerts(self):
        DataflowRunFactory(destination=self.obj_a, profiles_received=1234, profiles_skipped=56)
        AlertSubscriptionFactory(user=self.user, destination=self.obj_a, alert_type="run_failure")
        AlertSubscriptionFactory(destination=self.obj_a, alert_type="run_delay")
        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS, VIEW_ALERTS)

        content = self.client.get(self.url("detail", self.obj_a)).content.decode()

        assert "1,234" in content and "Destination Flow Run Failure" in content
        assert "Destination Flow Run Delay" not in content

    # Edit and delete

    def test_edit_changes_the_connection_and_its_marketing_actions(self):
        onsite = MarketingActionFactory(sandbox=self.sandbox_a, name="Onsite Personalization")
        self.grant_change()
        response = self.client.post(
            self.url("edit", self.obj_a), {**self.form_data(self.sandbox_a), "marketing_actions": [onsite.pk]}
        )
        assert response.status_code == 302
        self.obj_a.refresh_from_db()
        assert (self.obj_a.name, self.obj_a.alias) == ("Renamed", "renamed")
        assert list(self.obj_a.marketing_actions.all()) == [onsite]

    def test_edit_offers_only_eligible_datastreams_and_puts_a_taken_alias_on_the_alias(self):
        DatastreamFactory(sandbox=self.sandbox_a, name="Legacy", personalization_destinations=False)
        DestinationFactory(datastream=self.obj_a.datastream, alias="taken")
        self.grant_change()
        response = self.client.get(self.url("edit", self.obj_a))
        assert list(response.context["form"].fields["datastream"].queryset) == [self.obj_a.datastream]
        response = self.client.post(self.url("edit", self.obj_a), {**self.form_data(self.sandbox_a), "alias": "taken"})
        assert "already uses this integration alias" in response.context["form"].errors["alias"][0]

    def test_delete_confirmation_names_the_alias_audiences_attributes_and_alerts_that_stop(self):
        destination = DestinationFactory(
            datastream=self.obj_a.datastream, kind=Destination.Kind.WITH_ATTRIBUTES, alias="heroAlias"
        )
        ActivationFactory(destination=destination, audience=AudienceFactory(sandbox=self.sandbox_a, name="Gold"))
        MappingFactory(
            destination=destination, source=ProfileFieldFactory(sandbox=self.sandbox_a, path="a.b"), target="tier"
        )
        AlertSubscriptionFactory(destination=destination)
        self.grant_change()

        content = self.client.get(self.url("delete", destination)).content.decode()

        assert "heroAlias" in content and destination.datastream.name in content
        assert "Gold" in content and "tier" in content and "Alert subscriptions of 1 user end." in content

    # Enabled / Disabled

    def test_a_manager_disables_and_enables_a_destination(self):
        self.grant_change()
        url = reverse("destinations:destination_enabled", args=[self.obj_a.pk])

        response = self.client.post(url, {"enabled": "0", "next": self.url("list")})
        self.obj_a.refresh_from_db()
        assert response["Location"] == self.url("list") and not self.obj_a.enabled
        self.client.post(url, {"enabled": "1"})
        self.obj_a.refresh_from_db()
        assert self.obj_a.enabled

    def test_a_toggle_the_model_refuses_says_why_and_changes_nothing(self):
        self.obj_a.datastream.personalization_destinations = False
        self.obj_a.datastream.save()
        self.grant_change()
        url = reverse("destinations:destination_enabled", args=[self.obj_a.pk])

        response = self.client.post(url, {"enabled": "0"}, follow=True)

        self.obj_a.refresh_from_db()
        assert self.obj_a.enabled
        assert "does not have personalization destinations enabled" in response.content.decode()

    def test_the_toggle_ignores_a_next_url_on_another_site(self):
        self.grant_change()
        url = reverse("destinations:destination_enabled", args=[self.obj_a.pk])

        response = self.client.post(url, {"enabled": "0", "next": "https://evil.example/"})

        assert response["Location"] == self.obj_a.get_absolute_url()

    def test_viewers_cannot_toggle_and_other_sandboxes_are_not_found(self):
        self.grant_view()
        url = reverse("destinations:destination_enabled", args=[self.obj_a.pk])
        assert self.client.post(url, {"enabled": "0"}).status_code == 403
        self.grant_change()
        assert self.client.get(url).status_code == 405
        other = reverse("destinations:destination_enabled", args=[self.obj_b.pk])
        assert self.client.post(other, {"enabled": "0"}).status_code == 404
        self.obj_a.refresh_from_db()
        assert self.obj_a.enabled

    # Subscribe to alerts

    def test_a_user_subscribes_to_alerts_from_a_row_and_returns_to_the_list(self):
        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS, VIEW_ALERTS)
        url = reverse("destinations:destination_alerts", args=[self.obj_a.pk])
        assert self.client.get(url).context["form"]["alert_types"].value() == []

        response = self.client.post(url, {"alert_types": ["activation_skipped_rate"], "next": self.url("list")})

        assert response["Location"] == self.url("list")
        assert list(AlertSubscription.objects.values_list("user", "alert_type")) == [
            (self.user.pk, "activation_skipped_rate")
        ]
        assert self.client.get(url).context["form"]["alert_types"].value() == ["activation_skipped_rate"]

    def test_unticking_every_alert_unsubscribes(self):
        AlertSubscriptionFactory(user=self.user, destination=self.obj_a)
        someone = AlertSubscriptionFactory(user=UserFactory(username="someone"), destination=self.obj_a)
        self._grant(self.user, self.sandbox_a, VIEW_DESTINATIONS, VIEW_ALERTS)

        self.client.post(reverse("destinations:destination_alerts", args=[self.obj_a.pk]), {})

        assert list(AlertSubscription.objects.all()) == [someone]

    def test_subscribing_needs_view_alerts(self):
        self.grant_view()
        url = reverse("destinations:destination_alerts", args=[self.obj_a.pk])
        assert self.client.get(url).status_code == 403
        assert self.client.post(url, {"alert_types": ["run_failure"]}).status_code == 403
        assert not AlertSubscription.objects.exists()


class TestCatalog:
    @pytest.fixture(autouse=True)
    def _setup(self, client, user, sandbox, grant):
        self.client, self.user, self.sandbox, self.grant = client, user, sandbox, grant
        self.url = reverse("destinations:destination_catalog")
        client.force_login(user)

    def _card_links(self):
        content = self.client.get(self.url).content.decode()
        return {
            kind: {
                "set up": reverse("destinations:destination_connect", args=[kind]) in content,
                "activate": reverse("destinations:destination_activate_kind", args=[kind]) in content,
            }
            for kind in Destination.Kind.values
        }

    def test_both_cards_offer_set_up_to_a_manager_while_there_is_no_connection(self):
        self.grant(self.user, self.sandbox, VIEW_DESTINATIONS, MANAGE_DESTINATIONS, *ACTIVATE)
        content = self.client.get(self.url).content.decode()

        assert "Custom Personalization With Attributes" in content
        assert "Returns: the IDs of the activated audiences" in content
        assert all(links == {"set up": True, "activate": False} for links in self._card_links().values())

    def test_a_card_with_connections_offers_activate_audiences(self):
        DestinationFactory(datastream__sandbox=self.sandbox, kind=Destination.Kind.WITH_ATTRIBUTES)
        self.grant(self.user, self.sandbox, VIEW_DESTINATIONS, *ACTIVATE)

        links = self._card_links()

        assert links[Destination.Kind.WITH_ATTRIBUTES] == {"set up": False, "activate": True}
        assert links[Destination.Kind.CUSTOM_PERSONALIZATION] == {"set up": False, "activate": False}

    def test_a_viewer_sees_the_cards_without_any_button(self):
        DestinationFactory(datastream__sandbox=self.sandbox, kind=Destination.Kind.WITH_ATTRIBUTES)
        self.grant(self.user, self.sandbox, VIEW_DESTINATIONS)

        assert not any(any(links.values()) for links in self._card_links().values())
        assert "1 connection" in self.client.get(self.url).content.decode()

    def test_past_ten_destinations_the_catalog_warns(self):
        DestinationFactory.create_batch(10, datastream=DatastreamFactory(sandbox=self.sandbox))
        self.grant(self.user, self.sandbox, VIEW_DESTINATIONS, MANAGE_DESTINATIONS)

        assert "past the performance guardrail" in self.client.get(self.url).content.decode()

    def test_the_catalog_is_forbidden_without_view_destinations(self):
        self.grant(self.user, self.sandbox, VIEW_SEGMENTS)

        assert self.client.get(self.url).status_code == 403
