"""
One truth: the SQL evaluator and the in-memory evaluator agree on random rules and random profiles.

Runs on whatever database the suite uses (PostgreSQL in CI, SQLite by default). Each example inserts a small
batch of random profiles (missing keys, nulls, wrong types, unicode, numeric edge cases, dates) with random
memberships, then checks several random rules against the whole batch with one query per rule.
"""

import datetime
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personalization.audiences.models import AudienceMembership
from personalization.audiences.rules import OPERATORS, rule_matches, rule_to_q
from personalization.profiles.models import Profile
from tests.factories import AudienceFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2024, 6, 15)
FIELD_TYPES = {
    "s": "string",
    "n": "number",
    "b": "boolean",
    "d": "date",
    "o.s": "string",
    "o.n": "number",
    "o.d": "date",
}
# A path the schema does not know (deleted since the rule was saved): never holds, in both evaluators.
PATHS = [*FIELD_TYPES, "gone"]
ALL_OPERATORS = sorted({op for ops in OPERATORS.values() for op in ops})

AUDIENCE_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
AUDIENCE_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")

#
# Values
#

EDGE_NUMBERS = [
    0,
    -0.0,
    0.0,
    1,
    1.0,
    -1,
    5,
    5.0,
    0.1,
    0.30000000000000004,
    1e300,
    -1e300,
    1e-300,
    5e-324,
    1.7976931348623157e308,
    2**53,
    2**53 + 1,
    float(2**53),
    2**63 - 1,
    -(2**63),
    2**63,
    2**64 + 1,
    10**30,
    1e30,
    -(10**25),
    10**400,  # beyond the double range: no value
    123456789.123,
]
# Small pools make profile values and rule operands collide often, so equality and boundaries get exercised.
numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.sampled_from(EDGE_NUMBERS),
    st.integers(-3, 3),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
ALPHABET = list("aAbzé😀ß%_\\'\" -T0123456789") + ["\u0301", "ﬁ", "İ", "日本", "\n"]
SHORT_STRINGS = ["", "a", "A", "ab", "ba", "é", "e\u0301", "😀", "a😀", "%", "_", "a%", "\\", "ß", "SS", "日本"]
strings = st.one_of(
    st.sampled_from(SHORT_STRINGS),
    st.sampled_from(SHORT_STRINGS),
    st.lists(st.sampled_from(ALPHABET), max_size=5).map("".join),
)
DATE_STRINGS = [
    "2024-06-15",
    "2024-06-14",
    "2024-06-16",
    "2024-05-16",
    "2024-01-01",
    "2023-12-31",
    "1999-02-28",
    "2024-06-15T10:00:00Z",
    "2024-06-10T23:59:59+02:00",
    "2024-06-15 10:00",
    "2024-6-15",
    "2024-02-30",
    "20240615",
    "2024-06-15\n",
    "٢٠٢٤-٠٦-١٥",
]
dates = st.sampled_from(DATE_STRINGS)
scalars = st.one_of(st.none(), st.booleans(), numbers, strings, dates)
json_values = st.one_of(
    scalars,
    st.lists(st.one_of(st.integers(-3, 3), strings), max_size=2),
    st.dictionaries(st.sampled_from(["s", "n", "x"]), st.one_of(strings, st.integers(-3, 3)), max_size=2),
)

#
# Rules
#

SMALL_NUMBERS = [0, -0.0, 1, 1.0, -1, 5, 5.0, 0.1, 2**53, 2**53 + 1, 1e300, 10**30, 10**400, -(2**63)]
POOLS = {
    "string": st.sampled_from(SHORT_STRINGS),
    "number": st.sampled_from(SMALL_NUMBERS),
    "boolean": st.booleans(),
    "date": st.sampled_from(DATE_STRINGS[:8]),
}
BROAD = {"string": strings, "number": numbers, "boolean": st.booleans(), "date": dates}
# Rule operands: mostly from the small pools that profile values also come from, so equality and boundaries
# are hit often; sometimes from the whole range.
OPERANDS = {kind: st.one_of(POOLS[kind], POOLS[kind], POOLS[kind], BROAD[kind]) for kind in POOLS}
_MISSING = object()


def _value(kind: str):
    """Mostly a value of the field's type, sometimes anything JSON holds, sometimes missing."""
    return st.one_of(POOLS[kind], POOLS[kind], POOLS[kind], BROAD[kind], json_values, st.just(_MISSING))


def _present(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not _MISSING}


nested = st.fixed_dictionaries({"s": _value("string"), "n": _value("number"), "d": _value("date")}).map(_present)
attributes = st.fixed_dictionaries(
    {
        "s": _value("string"),
        "n": _value("number"),
        "b": _value("boolean"),
        "d": _value("date"),
        "gone": st.one_of(json_values, st.just(_MISSING)),
        "o": st.one_of(nested, nested, nested, json_values, st.just(_MISSING)),
    }
).map(_present)
MEMBERSHIP = [None, "realized", "existing", "exited"]
profiles = st.lists(
    st.tuples(attributes, st.sampled_from(MEMBERSHIP), st.sampled_from(MEMBERSHIP)), min_size=3, max_size=10
)


@st.composite
def comparisons(draw):
    path = draw(st.sampled_from(PATHS))
    kind = FIELD_TYPES.get(path, "string")
    valid = OPERATORS[kind]
    op = draw(st.sampled_from(valid)) if draw(st.integers(0, 9)) else draw(st.sampled_from(ALL_OPERATORS))
    # Mostly operands of the field's type; sometimes any JSON value (an invalid rule never holds).
    operand = OPERANDS[kind] if draw(st.integers(0, 9)) else scalars
    node = {"field": path, "op": op}
    if op == "exists":
        return node
    if op == "in":
        node["value"] = draw(st.lists(operand, min_size=1, max_size=3))
    elif op == "between":
        node["value"] = sorted(draw(st.lists(operand, min_size=2, max_size=2)), key=_sort_key)
    elif op == "within_last_days":
        node["value"] = draw(st.one_of(st.integers(1, 400), st.sampled_from([0, -1, 2.5, True, "3"])))
    else:
        node["value"] = draw(operand)
    return node


def _sort_key(value):
    # Order operands of one kind so `between` is mostly well-formed; mixed kinds stay as drawn.
    if isinstance(value, bool) or value is None:
        return (0, 0)
    if isinstance(value, int | float):
        try:
            return (1, float(value))
        except OverflowError:
            return (1, float("inf"))
    return (2, str(value))


leaves = st.one_of(
    comparisons(),
    comparisons(),
    comparisons(),
    comparisons(),
    comparisons(),
    comparisons(),
    st.builds(
        lambda ref: {"in_audience": ref},
        st.sampled_from([str(AUDIENCE_A), str(AUDIENCE_B), str(AUDIENCE_A).upper(), str(uuid.UUID(int=7)), "vip"]),
    ),
    st.just({"event": "eventType", "op": "equals", "value": "commerce.checkouts"}),
)
rules = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(children, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(children, max_size=3)),
        st.builds(lambda child: {"not": child}, children),
    ),
    max_leaves=8,
)


@pytest.fixture
def audiences(sandbox):
    return AudienceFactory(sandbox=sandbox, id=AUDIENCE_A), AudienceFactory(sandbox=sandbox, id=AUDIENCE_B)


@settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=profiles, rule_list=st.lists(rules, min_size=2, max_size=6))
def test_sql_and_memory_evaluators_agree(sandbox, audiences, batch, rule_list):
    # given: a batch of profiles with memberships in audiences A and B
    rows, memberships, expected_audiences = [], [], {}
    for attrs, status_a, status_b in batch:
        profile = Profile(sandbox=sandbox, attributes=attrs)
        rows.append(profile)
        active = set()
        for audience, status in zip(audiences, (status_a, status_b), strict=True):
            if status is None:
                continue
            memberships.append(
                AudienceMembership(
                    audience=audience,
                    profile=profile,
                    status=status,
                    exited_at=TODAY_AWARE if status == "exited" else None,
                )
            )
            if status != "exited":
                active.add(str(audience.pk))
        expected_audiences[profile.pk] = active
    Profile.objects.bulk_create(rows)
    AudienceMembership.objects.bulk_create(memberships)
    stored = {p.pk: p.attributes for p in Profile.objects.filter(pk__in=[p.pk for p in rows])}
    try:
        for rule in rule_list:
            # when
            in_sql = set(
                Profile.objects.filter(pk__in=stored)
                .filter(rule_to_q(rule, field_types=FIELD_TYPES, today=TODAY))
                .values_list("pk", flat=True)
            )
            in_memory = {
                pk
                for pk, attrs in stored.items()
                if rule_matches(
                    rule, attributes=attrs, field_types=FIELD_TYPES, audiences=expected_audiences[pk], today=TODAY
                )
            }
            # then
            assert in_sql == in_memory, {
                "rule": rule,
                "only_sql": [stored[pk] for pk in in_sql - in_memory],
                "only_memory": [stored[pk] for pk in in_memory - in_sql],
            }
    finally:
        Profile.objects.filter(pk__in=stored).delete()


TODAY_AWARE = datetime.datetime(2024, 6, 15, tzinfo=datetime.UTC)


def test_the_property_test_reads_the_stored_json_not_the_python_objects(sandbox):
    """Guard the test itself: values round-trip through the database before the in-memory evaluator sees them."""
    profile = Profile.objects.create(sandbox=sandbox, attributes={"n": 10**30, "s": "é😀"})
    assert Profile.objects.get(pk=profile.pk).attributes == {"n": 10**30, "s": "é😀"}
