"""The rule builder's reads: the estimate of how many profiles a rule selects, and what a rule may name."""

import pytest

from personalization.audiences.models import Audience
from personalization.audiences.selectors import rule_estimate, rule_subject_audiences, rule_subject_fields
from tests.factories import AudienceFactory, MembershipFactory, ProfileFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db

GOLD = {"field": "loyalty.status", "op": "equals", "value": "gold"}
CHECKOUT = {"event": "eventType", "op": "equals", "value": "commerce.checkouts"}


@pytest.fixture
def shoppers(sandbox, other_sandbox):
    """Five profiles in the sandbox (three gold, one of them without a country), and one gold profile elsewhere."""
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.points", field_type="number")
    ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")
    ProfileFieldFactory(sandbox=sandbox, path="preferences", field_type="map")
    for status, points, country in (("gold", 50, "DE"), ("gold", 500, "FR"), ("gold", 10, None), ("silver", 900, "DE")):
        attributes = {"loyalty": {"status": status, "points": points}}
        if country:
            attributes["homeAddress"] = {"countryCode": country}
        ProfileFactory(sandbox=sandbox, attributes=attributes)
    ProfileFactory(sandbox=sandbox, attributes={})
    ProfileFactory(sandbox=other_sandbox, attributes={"loyalty": {"status": "gold"}})
    return sandbox


def estimate(sandbox, rule, evaluation="batch", **kwargs):
    return rule_estimate(sandbox_id=sandbox.pk, rule=rule, evaluation=evaluation, **kwargs)


def test_the_estimate_counts_the_sandboxs_profiles_that_match_the_rule_out_of_all_of_them(shoppers):
    rule = {
        "all": [
            GOLD,
            {
                "any": [
                    {"field": "homeAddress.countryCode", "op": "in", "value": ["DE"]},
                    {"field": "loyalty.points", "op": "gt", "value": 100},
                ]
            },
        ]
    }

    result = estimate(shoppers, rule)

    assert (result.matching, result.total) == (2, 5)
    assert result.text == 'loyalty.status equals "gold" and (homeAddress.countryCode in ["DE"] or loyalty.points > 100)'
    assert result.errors == [] and result.messages == []
    assert result.eligibility.eligible
    assert result.eligibility.reason == "Profile-only rule: the edge evaluates it against the profile."


def test_in_audience_conditions_count_todays_memberships(shoppers):
    vip = AudienceFactory(sandbox=shoppers, name="VIP")
    MembershipFactory(audience=vip, profile=ProfileFactory(sandbox=shoppers))

    result = estimate(shoppers, {"in_audience": str(vip.pk)})

    assert (result.matching, result.total) == (1, 6)
    assert result.text == 'in audience "VIP"'


def test_event_conditions_are_left_out_so_the_count_is_who_qualifies_when_the_event_matches(shoppers):
    with_event = estimate(shoppers, {"all": [GOLD, CHECKOUT]}, evaluation="edge")
    under_not = estimate(shoppers, {"all": [GOLD, {"not": CHECKOUT}]}, evaluation="edge")

    assert with_event.events_ignored and with_event.matching == 3
    assert under_not.events_ignored and under_not.matching == 3
    assert with_event.eligibility.reason == "Single event combined with profile attributes."


def test_an_event_condition_in_a_batch_audience_is_counted_and_reported(shoppers):
    result = estimate(shoppers, {"all": [GOLD, CHECKOUT]}, evaluation="batch")

    assert result.matching == 3
    assert result.messages == [
        "all[1]: conditions on the request's event need the edge evaluation method; batch evaluation has no event "
        "to look at."
    ]


def test_an_invalid_rule_is_not_counted_and_each_problem_is_named(shoppers):
    result = estimate(shoppers, {"all": [{"field": "loyalty.tier", "op": "equals", "value": "gold"}]})

    assert result.matching is None
    assert result.messages == [
        "all[0].field: no profile field loyalty.tier in this sandbox; add it to the profile schema first. "
        "Did you mean loyalty.status?"
    ]


def test_edge_evaluation_of_an_ineligible_rule_is_flagged_with_the_reason_but_still_counted(shoppers):
    uploaded = AudienceFactory(sandbox=shoppers, name="CRM list", origin=Audience.Origin.CUSTOM_UPLOAD)
    rule = {"all": [CHECKOUT, {"in_audience": str(uploaded.pk)}]}

    as_edge = estimate(shoppers, rule, evaluation="edge")
    as_batch = estimate(shoppers, rule, evaluation="batch")

    assert as_edge.edge_chosen_but_ineligible and as_edge.matching == 0
    assert '"CRM list", which is not a profile-only audience' in as_edge.eligibility.reason
    assert as_edge.messages == []  # the ineligibility is shown on its own, not twice
    assert not as_batch.edge_chosen_but_ineligible and not as_batch.eligibility.eligible


def test_no_rule_gives_no_estimate(shoppers):
    result = estimate(shoppers, None)

    assert result.matching is None and result.errors == []


def test_rules_may_name_scalar_fields_and_the_other_audiences_the_user_can_see(shoppers, user, grant, other_sandbox):
    from accounts.constants import VIEW_SEGMENTS

    grant(user, shoppers, VIEW_SEGMENTS)
    this = AudienceFactory(sandbox=shoppers, name="This one")
    AudienceFactory(sandbox=shoppers, name="Gold")
    AudienceFactory(sandbox=other_sandbox, name="Elsewhere")

    audiences = rule_subject_audiences(user=user, sandbox_id=shoppers.pk, exclude_id=this.pk)

    assert [audience.name for audience in audiences] == ["Gold"]
    assert rule_subject_fields(sandbox_id=shoppers.pk) == [
        ("homeAddress.countryCode", "string"),
        ("loyalty.points", "number"),
        ("loyalty.status", "string"),
    ]
