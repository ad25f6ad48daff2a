"""Rule validation names the path and the problem; rendering reads as one line; edge eligibility says why."""

import pytest

from django.core.exceptions import ValidationError

from personalization.audiences.models import Audience
from personalization.audiences.rules import check_rule, edge_eligibility, render_rule, validate_rule
from tests.factories import AudienceFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(sandbox):
    for path, field_type in (
        ("loyalty.status", "string"),
        ("loyalty.points", "number"),
        ("consents.marketing", "boolean"),
        ("person.birthDate", "date"),
        ("purchases", "array"),
    ):
        ProfileFieldFactory(sandbox=sandbox, path=path, field_type=field_type)
    return sandbox


def messages(rule, sandbox, evaluation="batch", audience_id=None):
    return [
        error.message
        for error in validate_rule(rule, sandbox_id=sandbox.pk, evaluation=evaluation, audience_id=audience_id)
    ]


def test_a_valid_rule_has_no_errors(schema):
    rule = {
        "all": [
            {"field": "loyalty.status", "op": "in", "value": ["gold", "platinum"]},
            {"field": "loyalty.points", "op": "between", "value": [100, 5000.5]},
            {"not": {"field": "consents.marketing", "op": "equals", "value": False}},
            {"field": "person.birthDate", "op": "within_last_days", "value": 30},
            {"any": []},
        ]
    }
    assert messages(rule, schema) == []


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"all": [{"field": "loyalty.status", "op": "equals", "value": "gold"}, {"field": "loyalty.tier"}]},
            "all[1].field: no profile field loyalty.tier in this sandbox; add it to the profile schema first. "
            "Did you mean loyalty.status?",
        ),
        (
            {"field": "loyalty.status", "op": "gt", "value": "gold"},
            "op: gt does not apply to loyalty.status (a string field); use one of equals, not_equals, in, "
            "contains, starts_with, exists.",
        ),
        (
            {"all": [{"any": [{"field": "loyalty.points", "op": "gt", "value": "100"}]}]},
            'all[0].any[0].value: loyalty.points (a number field) takes a number, not the string "100".',
        ),
        (
            {"field": "loyalty.points", "op": "gt", "value": True},
            "value: loyalty.points (a number field) takes a number, not true.",
        ),
        (
            {"field": "loyalty.points", "op": "in", "value": [1, "2"]},
            'value[1]: loyalty.points (a number field) takes a number, not the string "2".',
        ),
        (
            {"field": "loyalty.points", "op": "between", "value": [500, 100]},
            "value: the low end 500 is above the high end 100.",
        ),
        (
            {"field": "loyalty.points", "op": "equals", "value": 10**400},
            "value: the number " + "1" + "0" * 400 + " is outside the range of numbers rules compare (about ±1.8e308).",
        ),
        (
            {"field": "person.birthDate", "op": "before", "value": "2024-02-30"},
            'value: "2024-02-30" is not a date; write it as YYYY-MM-DD, e.g. 2024-03-31.',
        ),
        (
            {"field": "purchases", "op": "exists"},
            "field: purchases is an array field; rules can only compare string, number, boolean and date fields.",
        ),
        (
            {"field": "loyalty.points", "op": "exists", "value": True},
            'value: exists takes no value; remove it (wrap the condition in not for "has no value").',
        ),
        ({"field": "loyalty.points", "op": "gt"}, "value: gt needs a value."),
        (
            {"not": {"field": "loyalty.status", "op": "equals", "value": "gold", "case": "insensitive"}},
            "not.case: unknown key; a field condition takes only field, op, value.",
        ),
        (
            {"all": [["loyalty.status"]]},
            'all[0]: a condition must be a JSON object such as {"field": …, "op": …, "value": …}, not a list.',
        ),
        (
            {"all": [], "any": []},
            "rule: a condition needs exactly one of all, any, not, field, in_audience or event; found all, any.",
        ),
        ({"any": {"field": "x"}}, "any: must be a list of conditions, not an object."),
        (
            {"all": [{"event": "eventType", "op": "equals", "value": "commerce.checkouts"}]},
            "all[0]: conditions on the request's event need the edge evaluation method; batch evaluation has no "
            "event to look at.",
        ),
        ({"in_audience": "vip"}, 'in_audience: the string "vip" is not an audience id (a UUID).'),
    ],
)
def test_each_problem_is_named_with_its_path(schema, rule, expected):
    assert expected in messages(rule, schema)


def test_every_problem_is_reported_at_once(schema):
    rule = {
        "all": [{"field": "nope", "op": "equals", "value": 1}, {"field": "loyalty.points", "op": "gt", "value": "x"}]
    }

    assert [message.split(":")[0] for message in messages(rule, schema)] == ["all[0].field", "all[1].value"]


def test_rules_nested_too_deep_are_refused(schema):
    rule = {"field": "loyalty.status", "op": "exists"}
    for _level in range(12):
        rule = {"not": rule}

    assert any("deeper than 10 levels" in message for message in messages(rule, schema))


def test_an_unknown_or_foreign_audience_reference_is_refused_alike(schema, other_sandbox):
    foreign = AudienceFactory(sandbox=other_sandbox)
    unknown = "00000000-0000-4000-8000-000000000001"

    assert messages({"in_audience": str(foreign.pk)}, schema) == [
        "in_audience: no audience with the id %s in this sandbox." % foreign.pk
    ]
    assert messages({"in_audience": unknown}, schema) == [
        "in_audience: no audience with the id %s in this sandbox." % unknown
    ]


def test_an_audience_cannot_include_itself_directly_or_through_others(schema):
    gold = AudienceFactory(sandbox=schema, name="Gold")
    vip = AudienceFactory(sandbox=schema, name="VIP", rule={"in_audience": str(gold.pk)})

    assert messages({"in_audience": str(gold.pk)}, schema, audience_id=gold.pk) == [
        "in_audience: an audience cannot include itself."
    ]
    assert messages({"any": [{"in_audience": str(vip.pk)}]}, schema, audience_id=gold.pk) == [
        'any[0].in_audience: "VIP" → this audience makes a cycle; an audience cannot include itself through '
        "other audiences."
    ]


def test_audience_clean_and_the_api_reject_the_same_rule_with_the_same_message(schema, user_client, user, grant):
    grant(user, schema, "view_segments", "manage_segments")
    rule = {"all": [{"field": "loyalty.points", "op": "gt", "value": "100"}]}
    expected = 'all[0].value: loyalty.points (a number field) takes a number, not the string "100".'

    with pytest.raises(ValidationError) as excinfo:
        Audience(sandbox=schema, name="High", rule=rule).full_clean()
    response = user_client.post(
        "/api/v1/audiences/", {"sandbox": schema.name, "name": "High", "rule": rule}, content_type="application/json"
    )

    assert excinfo.value.message_dict["rule"] == [expected]
    assert response.status_code == 400
    assert response.json()["rule"] == [expected]


def test_check_rule_raises_every_message_on_the_rule_field(schema):
    with pytest.raises(ValidationError) as excinfo:
        check_rule({"field": "x", "op": "y"}, sandbox_id=schema.pk, evaluation="batch")

    assert list(excinfo.value.message_dict) == ["rule"]


#
# Rendering
#


def test_a_rule_renders_as_one_readable_line():
    vip = "00000000-0000-4000-8000-000000000009"
    rule = {
        "all": [
            {"field": "loyalty.status", "op": "equals", "value": "gold"},
            {
                "any": [
                    {"field": "homeAddress.countryCode", "op": "in", "value": ["DE", "AT"]},
                    {"not": {"in_audience": vip}},
                ]
            },
        ]
    }

    assert render_rule(rule, audience_names={vip: "VIP"}) == (
        'loyalty.status equals "gold" and (homeAddress.countryCode in ["DE", "AT"] or not in audience "VIP")'
    )


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"field": "loyalty.points", "op": "between", "value": [1, 2.5]}, "loyalty.points between 1 and 2.5"),
        (
            {"field": "person.birthDate", "op": "within_last_days", "value": 7},
            "person.birthDate within the last 7 days",
        ),
        ({"not": {"field": "loyalty.points", "op": "exists"}}, "not loyalty.points exists"),
        ({"field": "loyalty.points", "op": "gte", "value": 100}, "loyalty.points >= 100"),
        ({"field": "name", "op": "not_equals", "value": "Zoë"}, 'name does not equal "Zoë"'),
        (
            {"event": "web.webPageDetails.URL", "op": "starts_with", "value": "https://shop.test/cart"},
            'event page URL starts with "https://shop.test/cart"',
        ),
        (
            {"not": {"any": [{"field": "a", "op": "exists"}, {"field": "b", "op": "exists"}]}},
            "not (a exists or b exists)",
        ),
        ({"all": []}, "everyone"),
        ({"any": []}, "no one"),
        ({"in_audience": "00000000-0000-4000-8000-000000000009"}, 'in audience "00000000-0000-4000-8000-000000000009"'),
    ],
)
def test_each_condition_renders(rule, text):
    assert render_rule(rule) == text


def test_an_audience_describes_its_rule_with_the_names_of_included_audiences(schema):
    vip = AudienceFactory(sandbox=schema, name="VIP")
    audience = AudienceFactory(sandbox=schema, rule={"not": {"in_audience": str(vip.pk)}})

    assert audience.rule_text == 'not in audience "VIP"'


#
# Edge eligibility
#

CHECKOUT = {"event": "eventType", "op": "equals", "value": "commerce.checkouts"}


def test_profile_only_and_single_event_rules_are_edge_eligible(schema):
    profile_only = {"field": "loyalty.status", "op": "equals", "value": "gold"}

    assert edge_eligibility(profile_only, sandbox_id=schema.pk).eligible
    assert edge_eligibility(CHECKOUT, sandbox_id=schema.pk).eligible
    assert edge_eligibility({"all": [CHECKOUT, profile_only]}, sandbox_id=schema.pk).reason == (
        "Single event combined with profile attributes."
    )


def test_an_event_with_a_profile_only_audience_is_eligible_but_not_with_another(schema):
    profile_only = AudienceFactory(sandbox=schema, name="Gold", rule={"field": "loyalty.status", "op": "exists"})
    batch_based = AudienceFactory(sandbox=schema, name="Nested", rule={"in_audience": str(profile_only.pk)})

    assert edge_eligibility({"all": [CHECKOUT, {"in_audience": str(profile_only.pk)}]}, sandbox_id=schema.pk).eligible
    verdict = edge_eligibility({"all": [CHECKOUT, {"in_audience": str(batch_based.pk)}]}, sandbox_id=schema.pk)
    assert not verdict.eligible
    assert '"Nested", which is not a profile-only audience' in verdict.reason


def test_an_edge_audience_with_an_ineligible_rule_is_refused_with_the_reason(schema):
    uploaded = AudienceFactory(sandbox=schema, name="CRM list", origin=Audience.Origin.CUSTOM_UPLOAD)
    rule = {"all": [CHECKOUT, {"in_audience": str(uploaded.pk)}]}

    assert messages(rule, schema, evaluation="edge") == [
        "rule: not eligible for edge evaluation. It combines a condition on the request's event with in_audience "
        '"CRM list", which is not a profile-only audience; on the edge an event can only be combined with profile '
        "attributes or profile-only audiences. Use batch or streaming instead."
    ]
    assert messages(rule, schema, evaluation="streaming")[0].startswith("all[0]: conditions on the request's event")
