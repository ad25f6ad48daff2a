"""The lookup preview shows both answers and a reason for every activated audience."""

import json

import pytest

from django.urls import reverse
from django.utils import timezone

from accounts import constants as perms
from personalization.audiences.models import Audience, AudienceMembership
from tests.factories import ActivationFactory, AudienceFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(scenario, client, grant):
    user = UserFactory(username="analyst")
    grant(user, scenario.sandbox, perms.VIEW_PROFILES, perms.VIEW_DESTINATIONS)
    client.force_login(user)
    return user


def preview(client, scenario, value=None, namespace="ECID"):
    return client.get(
        reverse("edge:lookup_preview"),
        {"datastream": scenario.datastream.pk, "namespace": namespace, "identity": value or scenario.ecid.value},
    )


def test_the_preview_shows_the_exact_answers_of_both_kinds_of_caller(scenario, client, viewer):
    response = preview(client, scenario)

    assert response.status_code == 200
    result = response.context["preview"]
    unauthenticated = json.loads(result.unauthenticated)["handle"][0]["payload"]
    authenticated = json.loads(result.authenticated)["handle"][0]["payload"]
    live = scenario.payload(scenario.lookup())
    assert unauthenticated == live
    assert "attributes" not in unauthenticated[1]
    assert authenticated[1]["attributes"] == {"countryCode": {"value": "DE"}, "membershipStatus": {"value": "gold"}}


def reasons(response):
    return {
        (verdict.destination.alias, verdict.audience.name): verdict.reason
        for verdict in response.context["preview"].verdicts
    }


def test_every_reason_an_audience_is_left_out_is_named(scenario, client, viewer):
    # given one activated audience for each reason
    not_member = AudienceFactory(sandbox=scenario.sandbox, name="Not member")
    ActivationFactory(destination=scenario.audiences_only, audience=not_member)
    exited = AudienceFactory(sandbox=scenario.sandbox, name="Exited")
    ActivationFactory(destination=scenario.audiences_only, audience=exited)
    MembershipFactory(
        audience=exited, profile=scenario.profile, status=AudienceMembership.Status.EXITED, exited_at=timezone.now()
    )
    later = AudienceFactory(sandbox=scenario.sandbox, name="Later")
    ActivationFactory(destination=scenario.audiences_only, audience=later, start_date=scenario.today(3))
    MembershipFactory(audience=later, profile=scenario.profile)
    expired = Audience.objects.create(
        sandbox=scenario.sandbox,
        name="Expired upload",
        origin=Audience.Origin.CUSTOM_UPLOAD,
        status=Audience.Status.PUBLISHED,
        expires_at=timezone.now() - timezone.timedelta(days=1),
    )
    ActivationFactory(destination=scenario.audiences_only, audience=expired)
    MembershipFactory(audience=expired, profile=scenario.profile)
    scenario.germans.status = Audience.Status.INACTIVE
    scenario.germans.save()
    scenario.with_attributes.enabled = False
    scenario.with_attributes.save()

    # when
    found = reasons(preview(client, scenario))

    # then
    assert found[("personalizationAlias", "Gold members")] == "served"
    assert found[("personalizationAlias", "Not member")] == "not_member"
    assert found[("personalizationAlias", "Exited")] == "exited"
    assert found[("personalizationAlias", "Later")] == "before_schedule"
    assert found[("personalizationAlias", "Expired upload")] == "audience_expired"
    assert found[("adServerAlias", "Germans")] == "destination_disabled"
    assert found[("adServerAlias", "Gold members")] == "destination_disabled"


def test_an_inactive_audience_is_explained(scenario, client, viewer):
    scenario.germans.status = Audience.Status.INACTIVE
    scenario.germans.save()

    assert reasons(preview(client, scenario))[("adServerAlias", "Germans")] == "audience_inactive"


def test_an_unknown_identity_is_said_to_be_unknown(scenario, client, viewer):
    response = preview(client, scenario, value="0" * 38)

    assert not response.context["preview"].found
    assert "No profile has this identity" in response.content.decode()


def test_the_preview_needs_view_profiles_and_view_destinations(scenario, client, grant):
    user = UserFactory(username="marketer-without-profiles")
    grant(user, scenario.sandbox, perms.VIEW_DESTINATIONS)
    client.force_login(user)

    assert preview(client, scenario).status_code == 403


def test_datastreams_of_other_sandboxes_cannot_be_previewed(scenario, client, viewer):
    from tests.factories import DatastreamFactory, SandboxFactory

    elsewhere = DatastreamFactory(sandbox=SandboxFactory(name="elsewhere"))
    response = client.get(
        reverse("edge:lookup_preview"), {"datastream": elsewhere.pk, "namespace": "ECID", "identity": "1" * 38}
    )

    assert "datastream" in response.context["form"].errors
    assert "preview" not in response.context


def test_the_menu_offers_the_preview_only_to_users_who_may_open_it(scenario, client, grant):
    able = UserFactory(username="able")
    grant(able, scenario.sandbox, perms.VIEW_PROFILES, perms.VIEW_DESTINATIONS)
    unable = UserFactory(username="unable")
    grant(unable, scenario.sandbox, perms.VIEW_DESTINATIONS)

    client.force_login(able)
    assert "Lookup preview" in client.get("/").content.decode()
    client.force_login(unable)
    assert "Lookup preview" not in client.get("/").content.decode()


def test_an_identity_not_in_its_namespaces_format_gets_the_format_error(scenario, client, viewer):
    response = preview(client, scenario, value="abc", namespace="ECID")

    assert "preview" not in response.context
    assert response.context["form"].errors["identity"] == [
        "This is not a valid ECID identity: an ECID is exactly 38 digits."
    ]
    assert "No profile has this identity" not in response.content.decode()


def test_the_empty_preview_starts_on_a_serving_datastream_and_the_namespace_most_profiles_have(
    scenario, client, viewer
):
    from tests.factories import DatastreamFactory, IdentityFactory, ProfileFactory

    DatastreamFactory(
        sandbox=scenario.sandbox, name="A datastream without destinations", personalization_destinations=False
    )
    for value in ("grace@example.com", "alan@example.com"):
        IdentityFactory(profile=ProfileFactory(sandbox=scenario.sandbox), namespace=scenario.email_ns, value=value)

    form = client.get(reverse("edge:lookup_preview")).context["form"]

    assert form["datastream"].value() == scenario.datastream.pk
    assert form["namespace"].value() == "Email"
