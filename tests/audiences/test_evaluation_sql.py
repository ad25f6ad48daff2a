"""
What batch evaluation's SQL relies on: equality leaves that skip the JSON type check only when the operand's text
proves the type, and a run whose chunks only count their transitions (past the announce limit).
"""

import pytest

from personalization.audiences.evaluation import audience_evaluate
from personalization.audiences.models import AudienceMembership
from personalization.audiences.rules import rule_matches, rule_to_q
from personalization.profiles.models import Profile
from tests.factories import AudienceFactory, MembershipFactory, ProfileFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db

TYPES = {"name": "string", "opted": "boolean"}
# Values of every JSON type whose text (`->>` on PostgreSQL) an operand could spell.
OTHER_TYPES = [5, -1, 1.5, 0, True, False, None, {"a": 1}, [1], [], {}]


def matches_in_sql_and_memory(sandbox, rule, attributes):
    profile = Profile.objects.create(sandbox=sandbox, attributes=attributes)
    stored = Profile.objects.get(pk=profile.pk).attributes
    in_sql = Profile.objects.filter(pk=profile.pk).filter(rule_to_q(rule, field_types=TYPES)).exists()
    return in_sql, rule_matches(rule, attributes=stored, field_types=TYPES, audiences=())


@pytest.mark.parametrize(
    "operand", ["5", "-1", "1.5", "0", "true", "false", "null", '{"a": 1}', '{"a":1}', "[1]", "[]", "{}", "gold", ""]
)
@pytest.mark.parametrize("op", ["equals", "in"])
def test_string_equality_never_matches_a_value_of_another_type_that_renders_alike(sandbox, operand, op):
    rule = {"field": "name", "op": op, "value": [operand] if op == "in" else operand}
    for value in OTHER_TYPES:
        assert matches_in_sql_and_memory(sandbox, rule, {"name": value}) == (False, False), value
    assert matches_in_sql_and_memory(sandbox, rule, {"name": operand}) == (True, True)


def test_an_in_list_mixing_plain_and_number_like_operands_still_checks_the_type(sandbox):
    rule = {"field": "name", "op": "in", "value": ["gold", "5"]}

    assert matches_in_sql_and_memory(sandbox, rule, {"name": 5}) == (False, False)
    assert matches_in_sql_and_memory(sandbox, rule, {"name": "5"}) == (True, True)
    assert matches_in_sql_and_memory(sandbox, rule, {"name": "gold"}) == (True, True)


@pytest.mark.parametrize("value", [True, False])
def test_boolean_equality_holds_for_that_boolean_only(sandbox, value):
    rule = {"field": "opted", "op": "equals", "value": value}

    for other in [not value, 1, 0, "true", "false", None, [value], {"v": value}]:
        assert matches_in_sql_and_memory(sandbox, rule, {"opted": other}) == (False, False), other
    assert matches_in_sql_and_memory(sandbox, rule, {"opted": value}) == (True, True)


def test_a_run_past_the_announce_limit_counts_every_transition(sandbox, settings):
    settings.AUDIENCE_EVALUATION_ANNOUNCE_LIMIT = 1
    settings.AUDIENCE_EVALUATION_CHUNK_SIZE = 2
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    gold = AudienceFactory(sandbox=sandbox, rule={"field": "loyalty.status", "op": "equals", "value": "gold"})
    newcomers = [ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"status": "gold"}}) for _ in range(5)]
    leavers = [ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"status": "silver"}}) for _ in range(3)]
    for leaver in leavers:
        MembershipFactory(audience=gold, profile=leaver, status="existing")

    evaluation = audience_evaluate(audience_id=gold.pk)

    assert (evaluation.entered, evaluation.exited) == (5, 3)
    statuses = dict(AudienceMembership.objects.filter(audience=gold).values_list("profile_id", "status"))
    assert statuses == {**{p.pk: "realized" for p in newcomers}, **{p.pk: "exited" for p in leavers}}


def test_a_rule_whose_field_no_longer_exists_evaluates_and_every_member_exits(sandbox):
    gone = AudienceFactory(sandbox=sandbox, rule={"field": "loyalty.deleted", "op": "equals", "value": "gold"})
    members = [ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"deleted": "gold"}}) for _ in range(2)]
    for member in members:
        MembershipFactory(audience=gone, profile=member, status="existing")

    evaluation = audience_evaluate(audience_id=gone.pk)

    assert (evaluation.status, evaluation.entered, evaluation.exited) == ("succeeded", 0, 2)
    assert set(AudienceMembership.objects.filter(audience=gone).values_list("status", flat=True)) == {"exited"}
