"""What the `activation:pull` payload holds for each kind of visitor and configuration."""

import pytest

from personalization.audiences.models import Audience, AudienceMembership
from tests.factories import DatastreamFactory, DestinationFactory, IdentityFactory, ProfileFactory

pytestmark = pytest.mark.django_db


def test_an_unknown_visitor_gets_an_empty_payload(scenario):
    response = scenario.lookup(scenario.body(value="9" * 38))

    assert scenario.payload(response) == []


def test_a_known_visitor_in_no_activated_audience_gets_each_destination_with_no_segments(scenario):
    stranger = ProfileFactory(sandbox=scenario.sandbox)
    IdentityFactory(profile=stranger, namespace=scenario.ecid_ns, value="2" * 38)

    payload = scenario.payload(scenario.lookup(scenario.body(value="2" * 38)))

    assert [(entry["alias"], entry["segments"]) for entry in payload] == [
        ("personalizationAlias", []),
        ("adServerAlias", []),
    ]


def test_an_audiences_only_destination_returns_the_visitors_segments(scenario):
    entry = scenario.entry(scenario.lookup(), "personalizationAlias")

    assert entry == {
        "type": "profileLookup",
        "destinationId": str(scenario.audiences_only.pk),
        "alias": "personalizationAlias",
        "segments": [{"id": str(scenario.gold.pk), "namespace": "ups"}],
    }


def test_an_authenticated_caller_gets_the_mapped_attributes(scenario):
    entry = scenario.entry(scenario.lookup(headers=scenario.auth_headers()), "adServerAlias")

    assert entry["attributes"] == {"countryCode": {"value": "DE"}, "membershipStatus": {"value": "gold"}}
    assert {segment["id"] for segment in entry["segments"]} == {str(scenario.gold.pk), str(scenario.germans.pk)}


def test_an_answer_states_its_length_so_it_is_not_sent_in_chunks(scenario):
    response = scenario.lookup(headers=scenario.auth_headers())

    assert response["Content-Length"] == str(len(response.content))


def test_an_unauthenticated_caller_never_sees_an_attributes_key(scenario):
    response = scenario.lookup()

    assert b"attributes" not in response.content
    assert "attributes" not in scenario.entry(response, "adServerAlias")


def test_a_mapped_field_the_profile_lacks_is_left_out(scenario):
    scenario.profile.attributes = {"loyalty": {"status": "silver"}}
    scenario.profile.save()

    entry = scenario.entry(scenario.lookup(headers=scenario.auth_headers()), "adServerAlias")

    assert entry["attributes"] == {"membershipStatus": {"value": "silver"}}


def test_a_disabled_destination_is_left_out(scenario):
    scenario.audiences_only.enabled = False
    scenario.audiences_only.save()

    aliases = [entry["alias"] for entry in scenario.payload(scenario.lookup())]

    assert aliases == ["adServerAlias"]


@pytest.mark.parametrize(
    ("start", "end"),
    [(1, None), (None, -1), (3, 10)],
    ids=["starts tomorrow", "ended yesterday", "window in the future"],
)
def test_an_activation_outside_its_schedule_is_not_served(scenario, start, end):
    activation = scenario.audiences_only.activations.get(audience=scenario.gold)
    activation.start_date = scenario.today(start) if start is not None else None
    activation.end_date = scenario.today(end) if end is not None else None
    activation.save()

    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] == []


def test_an_activation_inside_its_schedule_is_served(scenario):
    activation = scenario.audiences_only.activations.get(audience=scenario.gold)
    activation.start_date, activation.end_date = scenario.today(-1), scenario.today(0)
    activation.save()

    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] != []


def test_an_exited_membership_is_not_served(scenario):
    from django.utils import timezone

    membership = AudienceMembership.objects.get(audience=scenario.gold, profile=scenario.profile)
    membership.status, membership.exited_at = AudienceMembership.Status.EXITED, timezone.now()
    membership.save()

    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] == []


def test_an_inactive_audience_is_not_served(scenario):
    scenario.gold.status = Audience.Status.INACTIVE
    scenario.gold.save()

    assert scenario.entry(scenario.lookup(), "personalizationAlias")["segments"] == []


def test_an_expired_custom_upload_audience_is_not_served(scenario):
    from django.utils import timezone

    upload = Audience.objects.create(
        sandbox=scenario.sandbox,
        name="Uploaded list",
        origin=Audience.Origin.CUSTOM_UPLOAD,
        status=Audience.Status.PUBLISHED,
        expires_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    AudienceMembership.objects.create(audience=upload, profile=scenario.profile)
    scenario.audiences_only.activations.create(audience=upload)

    segments = scenario.entry(scenario.lookup(), "personalizationAlias")["segments"]

    assert str(upload.pk) not in [segment["id"] for segment in segments]


def test_two_destinations_answer_under_their_own_aliases(scenario):
    aliases = [entry["alias"] for entry in scenario.payload(scenario.lookup())]

    assert aliases == ["personalizationAlias", "adServerAlias"]


def test_destinations_on_another_datastream_do_not_answer(scenario):
    other = DatastreamFactory(sandbox=scenario.sandbox, name="App")
    DestinationFactory(datastream=other, alias="appAlias")

    aliases = [entry["alias"] for entry in scenario.payload(scenario.lookup())]

    assert "appAlias" not in aliases


def test_a_datastream_without_personalization_destinations_answers_with_no_entries(scenario):
    scenario.datastream.personalization_destinations = False
    scenario.datastream.save()

    assert scenario.payload(scenario.lookup()) == []


def test_the_identity_marked_primary_wins_over_the_ecid(scenario):
    body = {
        "event": {
            "xdm": {
                "identityMap": {
                    "ECID": [{"id": "5" * 38}],
                    "Email": [{"id": "ada@example.com", "primary": True}],
                }
            }
        }
    }

    assert scenario.entry(scenario.lookup(body), "personalizationAlias")["segments"] != []


def test_without_a_primary_mark_the_ecid_is_the_primary_identity(scenario):
    body = scenario.body(primary=False)

    assert scenario.entry(scenario.lookup(body), "personalizationAlias")["segments"] != []


def test_the_response_carries_the_callers_request_id_with_an_entropy_suffix(scenario):
    response = scenario.lookup(requestId="order-42")

    request_id = response.json()["requestId"]
    assert request_id.startswith("order-42-")
    assert len(request_id.rsplit("-", 1)[1]) == 16


def test_the_request_id_header_is_used_when_no_query_parameter_is_given(scenario):
    response = scenario.lookup(headers={"x-request-id": "abc-123"})

    assert response.json()["requestId"].startswith("abc-123-")


@pytest.mark.parametrize("given", ['order"42', "order-42\n", "x" * 129, "ordre é"])
def test_a_request_id_that_is_not_a_plain_label_is_replaced_and_the_answer_stays_json(scenario, given):
    from urllib.parse import quote

    response = scenario.lookup(requestId=quote(given))

    request_id = response.json()["requestId"]
    assert not request_id.startswith(given[:5])
    assert len(request_id) == 36 + 17


def test_the_datastream_parameter_may_be_spelled_dataStreamId(scenario):
    import json

    response = scenario.client.post(
        "/ee/v2/interact?dataStreamId=%s" % scenario.datastream.pk,
        data=json.dumps(scenario.body()),
        content_type="application/json",
    )

    assert scenario.payload(response) != []


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "text/plain;charset=UTF-8"])
def test_json_and_text_plain_bodies_are_accepted(scenario, content_type):
    assert scenario.payload(scenario.lookup(content_type=content_type)) != []
