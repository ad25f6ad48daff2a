"""Audience names belong to the audiences domain: without View Segments they appear nowhere."""

import json

import pytest

from django.test import Client

from accounts import constants as c
from personalization.destinations.models import Destination
from tests import factories as f

pytestmark = pytest.mark.django_db

SECRET = "Secret Gold Members"


@pytest.fixture
def visitor(sandbox):
    datastream = f.DatastreamFactory(sandbox=sandbox, name="Web")
    destination = f.DestinationFactory(
        datastream=datastream, kind=Destination.Kind.CUSTOM_PERSONALIZATION, alias="hero", name="Hero"
    )
    audience = f.AudienceFactory(sandbox=sandbox, name=SECRET)
    identity = f.IdentityFactory(profile__sandbox=sandbox, value="1" * 38)
    f.MembershipFactory(audience=audience, profile=identity.profile)
    f.ActivationFactory(destination=destination, audience=audience)
    return {"identity": identity, "datastream": datastream}


def _pages(client, visitor, sandbox) -> dict[str, str]:
    identity = visitor["identity"]
    profile = identity.profile
    upsert = "/api/v1/profiles/ECID/%s/?sandbox=%s" % (identity.value, sandbox.name)
    preview = "/lookup/preview/?datastream=%s&namespace=ECID&identity=%s" % (visitor["datastream"].pk, identity.value)
    answers = {
        "profile page": client.get(profile.get_absolute_url()),
        "profile list": client.get("/profiles/"),
        "profile API": client.get("/api/v1/profiles/%s/" % profile.pk),
        "profile list API": client.get("/api/v1/profiles/"),
        "profile upsert API": client.patch(
            upsert, json.dumps({"attributes": {"tier": "gold"}}), content_type="application/json"
        ),
        "lookup preview": client.get(preview),
        "demo page": client.get("/lookup/demo/%s/" % visitor["datastream"].pk),
        "destination page": client.get("/destinations/%s/" % visitor["datastream"].destinations.get().pk),
        "home": client.get("/"),
    }
    for name, response in answers.items():
        assert response.status_code == 200, "%s answered %d" % (name, response.status_code)
    return {name: response.content.decode() for name, response in answers.items()}


def test_view_profiles_without_view_segments_sees_no_audience_name_anywhere(grant, sandbox, visitor):
    viewer = f.UserFactory(username="no-segments")
    grant(viewer, sandbox, c.VIEW_PROFILES, c.MANAGE_PROFILES, c.VIEW_DESTINATIONS, c.VIEW_DATASTREAMS)
    client = Client()
    client.force_login(viewer)

    pages = _pages(client, visitor, sandbox)

    assert [name for name, body in pages.items() if SECRET in body] == []


def test_with_view_segments_the_same_pages_name_the_audience(grant, sandbox, visitor):
    viewer = f.UserFactory(username="with-segments")
    grant(viewer, sandbox, c.VIEW_PROFILES, c.MANAGE_PROFILES, c.VIEW_DESTINATIONS, c.VIEW_DATASTREAMS, c.VIEW_SEGMENTS)
    client = Client()
    client.force_login(viewer)

    pages = _pages(client, visitor, sandbox)

    assert SECRET in pages["profile page"]
    assert SECRET in pages["profile API"]
    assert SECRET in pages["lookup preview"]
