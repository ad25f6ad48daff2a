"""Same-page segmentation from the warm store: edge audiences are evaluated in memory, SQL only to write."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django.db import connection
from django.test.utils import CaptureQueriesContext

from personalization.audiences.evaluation import edge_qualify
from personalization.audiences.models import Audience, AudienceMembership
from personalization.audiences.rules import rule_matches
from personalization.datastreams.models import Datastream
from personalization.edge import segmentation
from personalization.edge.lookup import datastream_config
from tests.audiences.test_rules_property import AUDIENCE_A, AUDIENCE_B, FIELD_TYPES, TODAY, attributes, leaves
from tests.edge.conftest import Scenario
from tests.factories import ActivationFactory, AudienceFactory, ProfileFactory

CHECKOUT = {"event": "eventType", "op": "equals", "value": "commerce.checkouts"}
ON_CART = {"event": "web.webPageDetails.URL", "op": "contains", "value": "/cart"}
GOLD = {"field": "loyalty.status", "op": "equals", "value": "gold"}
RICH = {"field": "loyalty.points", "op": "gte", "value": 1000}


@pytest.fixture
def shop(db, client, grant, django_capture_on_commit_callbacks):
    """The lookup scenario with edge segmentation on and edge audiences activated on its datastream."""
    with django_capture_on_commit_callbacks(execute=True):
        built = Scenario(client, grant)
        datastream = Datastream.objects.get(pk=built.datastream.pk)
        datastream.edge_segmentation = True
        datastream.save()
        built.checkout = AudienceFactory(
            sandbox=built.sandbox, name="Gold checkout", evaluation="edge", rule={"all": [CHECKOUT, GOLD]}
        )
        built.cart = AudienceFactory(sandbox=built.sandbox, name="Cart viewers", evaluation="edge", rule=ON_CART)
        built.big_cart = AudienceFactory(
            sandbox=built.sandbox,
            name="Big spenders on the cart",
            evaluation="edge",
            rule={"all": [RICH, {"in_audience": None}]},
        )
        built.big_cart.rule = {"all": [RICH, {"in_audience": str(built.cart.pk)}]}
        built.big_cart.save()
        for audience in (built.checkout, built.cart, built.big_cart):
            ActivationFactory(destination=built.audiences_only, audience=audience)
    return built


def segments(shop, response) -> set[str]:
    return {segment["id"] for segment in shop.entry(response, "personalizationAlias")["segments"]}


def page_view(shop):
    return shop.body(eventType="web.webpagedetails.pageViews")


def cart_view(shop):
    return shop.body(web={"webPageDetails": {"URL": "https://shop.test/cart"}})


def edge_memberships(shop):
    return AudienceMembership.objects.filter(audience__in=[shop.checkout, shop.cart, shop.big_cart])


def assert_the_warm_lookup_runs_no_query(shop):
    shop.lookup(page_view(shop))

    with CaptureQueriesContext(connection) as queries:
        response = shop.lookup(page_view(shop))

    assert len(queries) == 0
    assert segments(shop, response) == {str(shop.gold.pk)}


@pytest.mark.django_db
def test_a_warm_lookup_on_an_edge_segmentation_datastream_runs_no_query(shop):
    assert_the_warm_lookup_runs_no_query(shop)


@pytest.mark.django_db
def test_a_warm_lookup_on_redis_runs_no_query_with_or_without_the_mirror(shop, redis_store):
    assert_the_warm_lookup_runs_no_query(shop)


@pytest.mark.django_db
def test_a_visitor_who_qualifies_gets_the_membership_stored_and_in_the_same_answer(shop, redis_store):
    shop.lookup(page_view(shop))

    response = shop.lookup(shop.body(eventType="commerce.checkouts"))

    assert str(shop.checkout.pk) in segments(shop, response)
    membership = AudienceMembership.objects.get(audience=shop.checkout, profile=shop.profile)
    assert membership.status == "realized"


@pytest.mark.django_db
def test_after_qualifying_the_next_lookups_are_warm_again_and_keep_the_membership(shop, redis_store):
    shop.lookup(shop.body(eventType="commerce.checkouts"))

    with CaptureQueriesContext(connection) as queries:
        later = shop.lookup(page_view(shop))

    assert len(queries) == 0
    assert str(shop.checkout.pk) in segments(shop, later)


@pytest.mark.django_db
def test_a_lookup_that_qualifies_nobody_writes_nothing(shop):
    shop.lookup(page_view(shop))

    with CaptureQueriesContext(connection) as queries:
        shop.lookup(shop.body(eventType="commerce.productViews"))

    assert [query["sql"] for query in queries] == []
    assert not edge_memberships(shop).exists()


@pytest.mark.django_db
def test_an_audience_that_includes_another_qualifies_in_the_same_lookup(shop):
    response = shop.lookup(cart_view(shop))

    assert {str(shop.cart.pk), str(shop.big_cart.pk)} <= segments(shop, response)
    assert edge_memberships(shop).filter(status="realized").count() == 2


@pytest.mark.django_db
def test_a_membership_the_database_already_holds_is_answered_even_when_the_store_missed_it(shop):
    shop.lookup(page_view(shop))
    # Written without signals, as a concurrent writer whose invalidation has not arrived yet would look.
    AudienceMembership.objects.bulk_create([AudienceMembership(audience=shop.cart, profile=shop.profile)])

    response = shop.lookup(cart_view(shop))

    assert str(shop.cart.pk) in segments(shop, response)
    assert edge_memberships(shop).filter(audience=shop.cart).count() == 1


@pytest.mark.django_db
def test_a_changed_edge_rule_applies_from_the_next_lookup(shop, redis_store, django_capture_on_commit_callbacks):
    shop.lookup(page_view(shop))
    with django_capture_on_commit_callbacks(execute=True):
        audience = Audience.objects.get(pk=shop.cart.pk)
        audience.rule = {"event": "eventType", "op": "equals", "value": "web.webpagedetails.pageViews"}
        audience.save()

    response = shop.lookup(page_view(shop))

    assert str(shop.cart.pk) in segments(shop, response)


@pytest.mark.django_db
def test_an_edge_audience_outside_its_schedule_is_not_evaluated(shop, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        activation = shop.cart.activations.get()
        activation.start_date = shop.today(3)
        activation.save()

    shop.lookup(cart_view(shop))

    assert not edge_memberships(shop).filter(audience=shop.cart).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("profile_attributes", "xdm"),
    [
        ({"loyalty": {"status": "gold", "points": 1200}}, {"eventType": "commerce.checkouts"}),
        ({"loyalty": {"status": "silver", "points": 1200}}, {"eventType": "commerce.checkouts"}),
        ({"loyalty": {"status": "gold", "points": 10}}, {"web": {"webPageDetails": {"URL": "https://s.test/cart"}}}),
        ({"loyalty": {"points": "1200"}}, {"web": {"webPageDetails": {"URL": "https://s.test/cart"}}}),
        ({"loyalty": {"status": "gold", "points": 5000}}, {"eventType": 7, "web": {"webPageDetails": "/cart"}}),
        ({}, None),
    ],
)
def test_the_in_memory_evaluation_agrees_with_the_database_evaluation(shop, profile_attributes, xdm):
    # given a profile and the config a lookup holds
    profile = ProfileFactory(sandbox=shop.sandbox, attributes=profile_attributes)
    config = datastream_config(str(shop.datastream.pk))

    # when both evaluators judge the same profile and event
    in_memory = segmentation.qualify(config, attributes=profile_attributes, audiences=(), event=xdm, now=time.time())
    served = [audience_id for audience_id, _matches in segmentation.served_edge_rules(config, time.time())]
    written = edge_qualify(
        sandbox_id=shop.sandbox.pk, profile_id=profile.pk, audience_ids=served, event=xdm if xdm else {}
    )

    # then the audiences the memory qualifies are the ones the database writes
    assert set(in_memory) == (set(written["audiences"]) if written else set())


EVENT_LEAVES = st.builds(
    lambda name, op, value: {"event": name, "op": op, "value": value},
    st.sampled_from(["eventType", "web.webPageDetails.URL", "web"]),
    st.sampled_from(["equals", "in", "contains", "starts_with", "gt"]),
    st.one_of(
        st.sampled_from(["commerce.checkouts", "/cart", "https://", "", "\x00"]),
        st.lists(st.sampled_from(["commerce.checkouts", "web.webpagedetails.pageViews", 3]), max_size=2),
        st.integers(),
    ),
)
EDGE_RULES = st.recursive(
    st.one_of(leaves, EVENT_LEAVES, st.sampled_from([{}, {"all": "x"}, {"field": "s", "event": "eventType"}])),
    lambda children: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(children, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(children, max_size=3)),
        st.builds(lambda child: {"not": child}, children),
    ),
    max_leaves=8,
)
EVENTS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "eventType": st.sampled_from(["commerce.checkouts", "web.webpagedetails.pageViews", 7, None]),
            "web": st.one_of(
                st.just("flat"),
                st.fixed_dictionaries(
                    {"webPageDetails": st.fixed_dictionaries({"URL": st.sampled_from(["https://s.test/cart", 1])})}
                ),
            ),
        },
    ),
)
MEMBERS = st.sets(st.sampled_from([str(AUDIENCE_A), str(AUDIENCE_B)]))


@settings(max_examples=400, deadline=None)
@given(rule=EDGE_RULES, profile_attributes=attributes, member_of=MEMBERS, event=EVENTS)
def test_a_compiled_rule_agrees_with_the_audiences_in_memory_evaluator(rule, profile_attributes, member_of, event):
    matches = segmentation.compile_rule(rule, field_types=FIELD_TYPES, today=TODAY)

    compiled = matches(profile_attributes, member_of, event)

    expected = rule_matches(
        rule, attributes=profile_attributes, field_types=FIELD_TYPES, audiences=member_of, event=event, today=TODAY
    )
    assert compiled is expected


@pytest.mark.django_db
def test_a_config_stored_before_configs_carried_edge_rules_is_read_again(shop):
    from personalization.edge.store import store

    # given the store holds the datastream's config as it was stored before edge rules were part of it
    config = datastream_config(str(shop.datastream.pk))
    old = {key: value for key, value in config.items() if key not in ("edge_rules", "edge_fields", "version")}
    store.put_config(old, 3600)

    # when a visitor on the cart page looks up
    response = shop.lookup(cart_view(shop))

    # then the edge audiences are evaluated all the same
    assert str(shop.cart.pk) in segments(shop, response)
