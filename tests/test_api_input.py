"""Input every management API endpoint shares: page bounds, unstorable text, OPTIONS, unknown paths (api_input)."""

import pytest

from django.urls import reverse

from accounts import constants as perms
from personalization.api_input import MAX_PAGE_SIZE, unstorable_character
from personalization.audiences.models import AudienceEvaluation
from personalization.datastreams.models import Datastream
from tests.factories import AudienceFactory, DatastreamFactory

pytestmark = pytest.mark.django_db

# Every list endpoint of /api/v1/, by router basename.
LIST_ENDPOINTS = [
    "sandbox",
    "role",
    "token",
    "credential",
    "datastream",
    "profile-field",
    "identity-namespace",
    "profile",
    "audience",
    "destination",
    "activation",
    "attribute-mapping",
]


@pytest.fixture
def admin_client(user_client, user, sandbox, grant):
    grant(user, sandbox, *perms.SANDBOX_PERMISSION_CODENAMES)
    return user_client


@pytest.mark.parametrize("basename", LIST_ENDPOINTS)
@pytest.mark.parametrize(
    "query, parameter",
    [
        ("limit=99999999999999999999", "limit"),
        ("limit=%d" % (MAX_PAGE_SIZE + 1), "limit"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("offset=99999999999999999999", "offset"),
        ("offset=-1", "offset"),
    ],
)
def test_an_out_of_range_page_parameter_is_a_400_naming_it(admin_client, basename, query, parameter):
    response = admin_client.get(reverse("api:%s-list" % basename) + "?" + query)

    assert response.status_code == 400, response.content
    [message] = response.json()[parameter]
    assert message.startswith("%s must be a whole number from" % parameter)


def test_the_largest_page_is_served_and_says_how_many_there_are(admin_client, sandbox):
    DatastreamFactory.create_batch(3, sandbox=sandbox)

    response = admin_client.get(reverse("api:datastream-list") + "?limit=%d&offset=1" % MAX_PAGE_SIZE)

    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert len(response.json()["results"]) == 2


def test_the_schema_documents_the_page_bounds(admin_client):
    schema = admin_client.get("/api/schema/?format=json").json()

    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/datastreams/"]["get"]["parameters"]}
    assert parameters["limit"]["maximum"] == MAX_PAGE_SIZE
    assert parameters["limit"]["minimum"] == 1
    assert parameters["offset"]["minimum"] == 0


def test_options_describes_the_profile_upsert_route(admin_client):
    response = admin_client.options("/api/v1/profiles/ECID/%s/" % ("1" * 38))

    assert response.status_code == 200, response.content
    assert "attributes" in response.json()["actions"]["PUT"]


@pytest.mark.parametrize("basename", ["datastream", "audience", "profile"])
def test_options_works_on_lists_and_objects(admin_client, sandbox, basename):
    assert admin_client.options(reverse("api:%s-list" % basename)).status_code == 200


def test_an_audiences_evaluations_come_a_page_at_a_time(admin_client, sandbox):
    audience = AudienceFactory(sandbox=sandbox)
    for _ in range(3):
        AudienceEvaluation.objects.create(audience=audience, trigger="manual", status="succeeded")

    response = admin_client.get("/api/v1/audiences/%s/evaluations/?limit=2" % audience.pk)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"].endswith("limit=2&offset=2")


def test_a_nul_character_in_a_body_field_is_a_400_naming_the_field(admin_client, sandbox):
    response = admin_client.post(
        reverse("api:datastream-list"), {"sandbox": "al\x00pha", "name": "Web"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {"sandbox": ["sandbox contains the NUL character (U+0000) at position 3; remove it."]}
    assert not Datastream.objects.exists()


def test_a_nul_character_deep_in_a_json_field_names_its_path(admin_client, sandbox):
    response = admin_client.post(
        reverse("api:audience-list"),
        {"sandbox": "alpha", "name": "Gold", "rule": {"all": [{"field": "a", "op": "equals", "value": "x\x00"}]}},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "rule": ["rule.all[0].value contains the NUL character (U+0000) at position 2; remove it."]
    }


def test_a_nul_character_in_a_form_body_is_a_400(admin_client, sandbox):
    response = admin_client.post(reverse("api:datastream-list"), {"sandbox": "alpha", "name": "W\x00eb"})

    assert response.status_code == 400
    assert response.json() == {"name": ["name contains the NUL character (U+0000) at position 2; remove it."]}


def test_an_unpaired_surrogate_in_a_json_body_is_a_400(admin_client, sandbox):
    response = admin_client.post(
        reverse("api:datastream-list"),
        b'{"sandbox": "alpha", "name": "Web \\ud800"}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "name": [
            "name contains an unpaired surrogate (U+D800), which is not valid Unicode text at position 5; remove it."
        ]
    }


def test_a_nul_character_in_a_query_parameter_is_a_400_naming_it(admin_client):
    response = admin_client.get(reverse("api:datastream-list") + "?name=%00")

    assert response.status_code == 400
    assert response.json() == {
        "name": ["Query parameter name contains the NUL character (U+0000) at position 1; remove it."]
    }


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v2/", "/api/v1/profiles/%C3%B8/x/y/z"])
def test_an_unknown_api_path_is_a_json_404(admin_client, path):
    response = admin_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "No API endpoint at" in response.json()["detail"]


def test_a_path_missing_its_trailing_slash_is_told_the_right_one(admin_client):
    response = admin_client.post("/api/v1/datastreams", {})

    assert response.status_code == 404
    assert response.json()["detail"].endswith("did you mean /api/v1/datastreams/ (every path ends with a slash)?")


def test_text_the_database_can_store_passes():
    assert unstorable_character("Ada Lovelace ✓ 𝄞 \t\n") is None


def test_an_unknown_api_path_asks_anonymous_callers_for_credentials_first(client):
    response = client.get("/api/v1/nothing-here/")

    assert response.status_code == 401
    assert "No API endpoint" not in response.content.decode()
