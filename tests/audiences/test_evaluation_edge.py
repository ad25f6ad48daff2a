"""Same-page personalization: on edge-segmentation datastreams the lookup evaluates edge audiences first."""

import pytest

from personalization.audiences.models import Audience, AudienceMembership
from personalization.datastreams.models import Datastream
from tests.edge.conftest import Scenario
from tests.factories import ActivationFactory, AudienceFactory

pytestmark = pytest.mark.django_db

CHECKOUT = {"event": "eventType", "op": "equals", "value": "commerce.checkouts"}
ON_CART = {"event": "web.webPageDetails.URL", "op": "contains", "value": "/cart"}


@pytest.fixture
def shop(db, client, grant, django_capture_on_commit_callbacks):
    """The lookup scenario with edge segmentation on and two edge audiences activated on the datastream."""
    with django_capture_on_commit_callbacks(execute=True):
        built = Scenario(client, grant)
        Datastream.objects.filter(pk=built.datastream.pk).update(edge_segmentation=True)
        built.checkout = AudienceFactory(
            sandbox=built.sandbox,
            name="Gold checkout",
            evaluation="edge",
            rule={"all": [CHECKOUT, {"field": "loyalty.status", "op": "equals", "value": "gold"}]},
        )
        built.cart = AudienceFactory(sandbox=built.sandbox, name="Cart viewers", evaluation="edge", rule=ON_CART)
        built.batch = AudienceFactory(sandbox=built.sandbox, name="Checkout (batch)", rule={"all": []})
        for audience in (built.checkout, built.cart, built.batch):
            ActivationFactory(destination=built.audiences_only, audience=audience)
    return built


def segments(shop, response):
    return {segment["id"] for segment in shop.entry(response, "personalizationAlias")["segments"]}


def event_body(shop, **xdm):
    return shop.body(**xdm)


def test_a_qualifying_event_shows_in_the_same_response_and_is_stored(shop):
    response = shop.lookup(event_body(shop, eventType="commerce.checkouts"))

    assert str(shop.checkout.pk) in segments(shop, response)
    membership = AudienceMembership.objects.get(audience=shop.checkout, profile=shop.profile)
    assert membership.status == "realized"
    shop.checkout.refresh_from_db()
    assert shop.checkout.profile_count == 1


def test_the_membership_stays_for_later_lookups_without_the_event(shop):
    shop.lookup(event_body(shop, eventType="commerce.checkouts"))

    later = shop.lookup(event_body(shop, eventType="web.webpagedetails.pageViews"))

    assert str(shop.checkout.pk) in segments(shop, later)


def test_a_non_qualifying_event_changes_nothing(shop):
    response = shop.lookup(event_body(shop, eventType="web.webpagedetails.pageViews"))

    assert str(shop.checkout.pk) not in segments(shop, response)
    assert not AudienceMembership.objects.filter(audience__in=[shop.checkout, shop.cart]).exists()


def test_the_page_url_condition_reads_the_events_web_details(shop):
    response = shop.lookup(event_body(shop, web={"webPageDetails": {"URL": "https://shop.test/cart"}}))

    assert str(shop.cart.pk) in segments(shop, response)
    assert str(shop.checkout.pk) not in segments(shop, response)


def test_the_web_sdk_shape_is_evaluated_too(shop):
    body = {"events": [event_body(shop, eventType="commerce.checkouts")["event"]]}
    url = "/ee/v1/interact?configId=%s" % shop.datastream.pk

    response = shop.client.post(url, data=__import__("json").dumps(body), content_type="text/plain")

    assert str(shop.checkout.pk) in segments(shop, response)


def test_batch_audiences_and_unknown_visitors_are_not_evaluated_at_the_edge(shop):
    shop.lookup(event_body(shop, eventType="commerce.checkouts"))
    unknown = shop.lookup(shop.body(value="9" * 38))

    assert not AudienceMembership.objects.filter(audience=shop.batch).exists()
    assert shop.payload(unknown) == []


def test_an_inactive_edge_audience_is_not_evaluated(shop):
    Audience.objects.filter(pk=shop.checkout.pk).update(status="inactive")

    shop.lookup(event_body(shop, eventType="commerce.checkouts"))

    assert not AudienceMembership.objects.filter(audience=shop.checkout).exists()


def test_an_edge_segmentation_lookup_costs_a_bounded_number_of_queries(shop, django_assert_max_num_queries):
    shop.lookup(event_body(shop, eventType="web.webpagedetails.pageViews"))  # warm the projection

    with django_assert_max_num_queries(4):
        shop.lookup(event_body(shop, eventType="web.webpagedetails.pageViews"))


def test_datastreams_without_edge_segmentation_keep_the_sql_free_warm_path(shop, django_assert_num_queries):
    Datastream.objects.filter(pk=shop.datastream.pk).update(edge_segmentation=False)
    from django.core.cache import cache

    cache.clear()
    shop.lookup(event_body(shop, eventType="commerce.checkouts"))

    with django_assert_num_queries(0):
        response = shop.lookup(event_body(shop, eventType="commerce.checkouts"))

    assert str(shop.checkout.pk) not in segments(shop, response)
