"""What every page shares: the error pages, the favicon, the sandbox switcher and the list summaries."""

import pytest

from django.contrib.staticfiles import finders
from django.test import RequestFactory
from django.urls import reverse

from personalization import urls
from personalization.views import server_error
from tests.factories import IdentityFactory, ProfileFactory, SandboxFactory

pytestmark = pytest.mark.django_db

NOT_FOUND = "We couldn't find that page"


def test_an_unknown_address_shows_the_products_not_found_page_in_the_embedded_mode(settings, user_client):
    settings.DEBUG = True

    response = user_client.get("/no-such-page/")

    assert response.status_code == 404
    assert NOT_FOUND in response.content.decode()
    assert "URLconf" not in response.content.decode()


def test_an_object_of_another_sandbox_shows_the_not_found_page_in_the_embedded_mode(
    settings, user_client, user, sandbox, other_sandbox, grant
):
    settings.DEBUG = True
    grant(user, sandbox, "view_profiles")
    elsewhere = ProfileFactory(sandbox=other_sandbox)

    response = user_client.get(reverse("profiles:profile_detail", args=[elsewhere.pk]))

    assert response.status_code == 404
    assert NOT_FOUND in response.content.decode()


def test_an_unknown_api_address_still_answers_json_in_the_embedded_mode(settings, user_client):
    settings.DEBUG = True

    response = user_client.get("/api/v1/no-such-resource/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_a_server_error_shows_a_page_that_says_nothing_was_half_saved():
    assert urls.handler500 == "personalization.views.server_error"

    response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    assert "nothing you sent was half-saved" in response.content.decode()


def test_every_page_names_its_favicon_and_the_app_serves_it(user_client):
    page = user_client.get(reverse("home")).content.decode()

    assert 'rel="icon"' in page and "favicon.svg" in page
    assert finders.find("favicon.svg")


def test_the_sandbox_switcher_names_a_sandbox_once_when_its_title_is_its_kind(user_client, user, grant):
    production = SandboxFactory(name="prod", title="Production", kind="production")
    campaigns = SandboxFactory(name="campaigns", title="Campaigns", kind="development")
    grant(user, [production, campaigns], "view_profiles")

    page = user_client.get(reverse("home")).content.decode()

    assert ">Production</option>" in page
    assert "Campaigns (development)</option>" in page


def test_one_filtered_result_reads_as_one_profile_that_matches(user_client, user, sandbox, grant):
    grant(user, sandbox, "view_profiles")
    identity = IdentityFactory(profile=ProfileFactory(sandbox=sandbox))
    IdentityFactory(profile=ProfileFactory(sandbox=sandbox), namespace=identity.namespace)

    one = user_client.get(reverse("profiles:profile_list"), {"identity": identity.value}).content.decode()
    both = user_client.get(reverse("profiles:profile_list"), {"namespace": "ECID"}).content.decode()

    assert "1 profile matches these filters" in " ".join(one.split())
    assert "2 profiles match these filters" in " ".join(both.split())
