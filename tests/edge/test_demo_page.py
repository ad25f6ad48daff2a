import pytest

from django.urls import reverse

from accounts import constants as perms
from tests.factories import DatastreamFactory, SandboxFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_demo_page_lists_the_offers_by_alias_and_audience(scenario, client, grant):
    user = UserFactory(username="site-owner")
    grant(user, scenario.sandbox, perms.VIEW_DATASTREAMS, perms.VIEW_SEGMENTS)
    client.force_login(user)

    response = client.get(reverse("edge:demo", args=[scenario.datastream.pk]))

    assert response.status_code == 200
    offers = {(offer["alias"], offer["name"]) for offer in response.context["offers"]}
    assert offers == {
        ("personalizationAlias", "Gold members"),
        ("adServerAlias", "Gold members"),
        ("adServerAlias", "Germans"),
    }
    assert "cpc-personalization.js" in response.content.decode()


def test_the_demo_page_of_another_sandbox_is_not_found(scenario, client, grant):
    user = UserFactory(username="site-owner")
    grant(user, scenario.sandbox, perms.VIEW_DATASTREAMS)
    client.force_login(user)
    elsewhere = DatastreamFactory(sandbox=SandboxFactory(name="elsewhere"))

    assert client.get(reverse("edge:demo", args=[elsewhere.pk])).status_code == 404


def test_the_demo_page_needs_view_datastreams(scenario, client, grant):
    user = UserFactory(username="profiles-only")
    grant(user, scenario.sandbox, perms.VIEW_PROFILES)
    client.force_login(user)

    assert client.get(reverse("edge:demo", args=[scenario.datastream.pk])).status_code == 403
