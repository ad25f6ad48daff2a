import pytest

pytestmark = pytest.mark.django_db


def preflight(scenario, origin):
    return scenario.client.options(
        "/ee/v2/interact?datastreamId=%s" % scenario.datastream.pk,
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )


def test_a_preflight_from_an_allowed_origin_is_answered(scenario):
    response = preflight(scenario, "https://www.shop.test")

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://www.shop.test"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "x-api-key" in response["Access-Control-Allow-Headers"]


def test_a_preflight_has_no_body_and_no_length(scenario):
    response = preflight(scenario, "https://www.shop.test")

    assert response.content == b""
    assert not response.has_header("Content-Length")


def test_a_preflight_from_another_origin_gets_no_cors_headers(scenario):
    response = preflight(scenario, "https://evil.test")

    assert not response.has_header("Access-Control-Allow-Origin")


def test_a_lookup_from_an_allowed_origin_names_that_exact_origin(scenario):
    response = scenario.lookup(headers={"Origin": "https://www.shop.test"})

    assert response["Access-Control-Allow-Origin"] == "https://www.shop.test"
    assert response["Vary"] == "Origin"


def test_a_lookup_from_another_origin_is_not_readable_by_the_page(scenario):
    response = scenario.lookup(headers={"Origin": "https://evil.test"})

    assert not response.has_header("Access-Control-Allow-Origin")


def test_a_repeated_preflight_is_answered_from_the_edge_store(scenario, django_assert_num_queries):
    preflight(scenario, "https://www.shop.test")

    with django_assert_num_queries(0):
        response = preflight(scenario, "https://www.shop.test")

    assert response["Access-Control-Allow-Origin"] == "https://www.shop.test"
