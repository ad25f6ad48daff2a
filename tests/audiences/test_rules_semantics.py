"""The rule semantics, case by case, through both evaluators: each case states the answer and both must give it."""

import datetime

import pytest

from personalization.audiences.models import AudienceMembership
from personalization.audiences.rules import rule_matches, rule_to_q
from personalization.profiles.models import Profile
from tests.factories import AudienceFactory, MembershipFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2024, 6, 15)
TYPES = {
    "name": "string",
    "points": "number",
    "opted": "boolean",
    "born": "date",
    "home.country": "string",
}


def evaluate_both(sandbox, rule, attributes, audiences=()):
    profile = Profile.objects.create(sandbox=sandbox, attributes=attributes)
    stored = Profile.objects.get(pk=profile.pk).attributes
    in_sql = Profile.objects.filter(pk=profile.pk).filter(rule_to_q(rule, field_types=TYPES, today=TODAY)).exists()
    in_memory = rule_matches(rule, attributes=stored, field_types=TYPES, audiences=audiences, today=TODAY)
    return in_sql, in_memory


def leaf(field, op, *value):
    node = {"field": field, "op": op}
    if value:
        node["value"] = value[0]
    return node


CASES = [
    # strings: exact, case-sensitive, by code point; wrong types and missing are no value
    (leaf("name", "equals", "Ada"), {"name": "Ada"}, True),
    (leaf("name", "equals", "ada"), {"name": "Ada"}, False),
    (leaf("name", "equals", "é"), {"name": "e\u0301"}, False),
    (leaf("name", "equals", "5"), {"name": 5}, False),
    (leaf("name", "not_equals", "Ada"), {"name": "Bob"}, True),
    (leaf("name", "not_equals", "Ada"), {"name": "Ada"}, False),
    (leaf("name", "not_equals", "Ada"), {}, False),
    (leaf("name", "not_equals", "Ada"), {"name": None}, False),
    (leaf("name", "not_equals", "Ada"), {"name": 3}, False),
    ({"not": leaf("name", "equals", "Ada")}, {}, True),
    (leaf("name", "in", ["Ada", "Bob"]), {"name": "Bob"}, True),
    (leaf("name", "in", ["Ada", "Bob"]), {"name": "Eve"}, False),
    (leaf("name", "contains", "%"), {"name": "50% off"}, True),
    (leaf("name", "contains", "%"), {"name": "50 off"}, False),
    (leaf("name", "contains", "_"), {"name": "ab"}, False),
    (leaf("name", "contains", "A"), {"name": "aaa"}, False),
    (leaf("name", "contains", "😀"), {"name": "hi 😀!"}, True),
    (leaf("name", "starts_with", "日本"), {"name": "日本語"}, True),
    (leaf("name", "starts_with", "本"), {"name": "日本語"}, False),
    (leaf("name", "starts_with", "a"), {"name": "A"}, False),
    (leaf("name", "exists"), {"name": ""}, True),
    (leaf("name", "exists"), {"name": None}, False),
    (leaf("name", "exists"), {"name": ["Ada"]}, False),
    # nested paths: a non-object on the way is no value
    (leaf("home.country", "equals", "DE"), {"home": {"country": "DE"}}, True),
    (leaf("home.country", "exists"), {"home": "DE"}, False),
    (leaf("home.country", "exists"), {"home": [{"country": "DE"}]}, False),
    # numbers: doubles; ints and floats mix; strings and booleans are not numbers
    (leaf("points", "equals", 5), {"points": 5.0}, True),
    (leaf("points", "equals", 0), {"points": -0.0}, True),
    (leaf("points", "gt", 0), {"points": -0.0}, False),
    (leaf("points", "equals", 2**53), {"points": 2**53 + 1}, True),
    (leaf("points", "equals", 1e300), {"points": 10**300}, True),
    (leaf("points", "gt", 1e308), {"points": 10**400}, False),
    (leaf("points", "exists"), {"points": 10**400}, False),
    (leaf("points", "lt", 0), {"points": -(10**400)}, False),
    (leaf("points", "equals", 5), {"points": "5"}, False),
    (leaf("points", "equals", 1), {"points": True}, False),
    (leaf("points", "gte", 100), {"points": 100}, True),
    (leaf("points", "gt", 100), {"points": 100}, False),
    (leaf("points", "lte", 100), {"points": 100}, True),
    (leaf("points", "lt", 100), {"points": 99.999}, True),
    (leaf("points", "between", [100, 200]), {"points": 100}, True),
    (leaf("points", "between", [100, 200]), {"points": 200}, True),
    (leaf("points", "between", [100, 200]), {"points": 200.0001}, False),
    (leaf("points", "in", [1, 2.5]), {"points": 2.5}, True),
    (leaf("points", "not_equals", 5), {"points": None}, False),
    (leaf("points", "gt", -(2**63)), {"points": 2**63 - 1}, True),
    # booleans
    (leaf("opted", "equals", True), {"opted": True}, True),
    (leaf("opted", "equals", False), {"opted": True}, False),
    (leaf("opted", "equals", True), {"opted": 1}, False),
    (leaf("opted", "equals", False), {"opted": "false"}, False),
    (leaf("opted", "exists"), {"opted": False}, True),
    # dates: YYYY-MM-DD text (or an ISO date-time's date part)
    (leaf("born", "equals", "2024-06-15"), {"born": "2024-06-15"}, True),
    (leaf("born", "equals", "2024-06-15"), {"born": "2024-06-15T23:00:00Z"}, True),
    (leaf("born", "equals", "2024-06-15"), {"born": "2024-06-15 23:00"}, False),
    (leaf("born", "exists"), {"born": "2024-6-15"}, False),
    (leaf("born", "exists"), {"born": "20240615"}, False),
    (leaf("born", "before", "2024-01-01"), {"born": "2023-12-31"}, True),
    (leaf("born", "before", "2024-01-01"), {"born": "2024-01-01"}, False),
    (leaf("born", "after", "2024-01-01"), {"born": "2024-01-02"}, True),
    (leaf("born", "between", ["2024-01-01", "2024-01-31"]), {"born": "2024-01-31"}, True),
    (leaf("born", "within_last_days", 7), {"born": "2024-06-08"}, True),
    (leaf("born", "within_last_days", 7), {"born": "2024-06-07"}, False),
    (leaf("born", "within_last_days", 7), {"born": "2024-06-15"}, True),
    (leaf("born", "within_last_days", 7), {"born": "2024-06-16"}, False),
    # groups: empty all is everyone, empty any no one; not is plain negation
    ({"all": []}, {}, True),
    ({"any": []}, {}, False),
    ({"not": {"any": []}}, {}, True),
    ({"not": {"all": [leaf("name", "equals", "Ada"), leaf("points", "gt", 1)]}}, {"name": "Ada"}, True),
    # rules that can never hold: unknown fields, operators of another type, events outside the edge
    (leaf("unknown.field", "exists"), {"unknown": {"field": 1}}, False),
    (leaf("name", "gt", "A"), {"name": "B"}, False),
    ({"not": leaf("name", "gt", "A")}, {"name": "B"}, True),
    ({"event": "eventType", "op": "equals", "value": "commerce.checkouts"}, {}, False),
]


@pytest.mark.parametrize(("rule", "attributes", "expected"), CASES)
def test_both_evaluators_give_the_documented_answer(sandbox, rule, attributes, expected):
    assert evaluate_both(sandbox, rule, attributes) == (expected, expected)


def test_in_audience_means_an_active_membership_now(sandbox):
    vip = AudienceFactory(sandbox=sandbox, name="VIP")
    rule = {"in_audience": str(vip.pk)}
    for status, expected in (("realized", True), ("existing", True), ("exited", False)):
        profile = Profile.objects.create(sandbox=sandbox, attributes={})
        MembershipFactory(
            audience=vip,
            profile=profile,
            status=status,
            exited_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC) if status == "exited" else None,
        )
        active = set(
            AudienceMembership.objects.filter(
                profile=profile, status__in=AudienceMembership.ACTIVE_STATUSES
            ).values_list("audience_id", flat=True)
        )
        in_sql = Profile.objects.filter(pk=profile.pk).filter(rule_to_q(rule, field_types=TYPES)).exists()
        in_memory = rule_matches(rule, attributes={}, field_types=TYPES, audiences=active)
        assert (in_sql, in_memory) == (expected, expected), status


def test_event_conditions_read_the_events_xdm_in_memory():
    checkout = {"event": "eventType", "op": "equals", "value": "commerce.checkouts"}
    on_cart = {"event": "web.webPageDetails.URL", "op": "contains", "value": "/cart"}
    event = {"eventType": "commerce.checkouts", "web": {"webPageDetails": {"URL": "https://shop.test/cart?x=1"}}}

    assert rule_matches({"all": [checkout, on_cart]}, attributes={}, field_types=TYPES, event=event)
    assert not rule_matches(checkout, attributes={}, field_types=TYPES, event={"eventType": "web.pageViews"})
    assert not rule_matches(checkout, attributes={}, field_types=TYPES, event=None)
    assert rule_matches({"not": checkout}, attributes={}, field_types=TYPES, event={"eventType": "x"})
