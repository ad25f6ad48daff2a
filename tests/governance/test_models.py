"""Governance rules: unique codes, keys and names per sandbox; policies deny a marketing action of their sandbox."""

import pytest

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from personalization.governance.models import Label, MarketingAction, Policy, validate_deny_expression
from tests.factories import LabelFactory, MarketingActionFactory, PolicyFactory

pytestmark = pytest.mark.django_db


def test_two_labels_in_one_sandbox_cannot_share_a_code(sandbox):
    LabelFactory(sandbox=sandbox, code="ACME")

    with pytest.raises(ValidationError) as excinfo:
        Label(sandbox=sandbox, code="ACME", name="No ad exports").full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["This sandbox already has a label with this code."]

    with pytest.raises(IntegrityError), transaction.atomic():
        Label.objects.create(sandbox=sandbox, code="ACME", name="No ad exports")


def test_the_same_label_code_is_fine_in_another_sandbox(sandbox, other_sandbox):
    LabelFactory(sandbox=sandbox, code="ACME")

    Label(sandbox=other_sandbox, code="ACME", name="No ad exports").full_clean()


def test_two_marketing_actions_in_one_sandbox_cannot_share_a_key(sandbox):
    MarketingActionFactory(sandbox=sandbox, key="onsite-personalization")

    with pytest.raises(ValidationError) as excinfo:
        MarketingAction(sandbox=sandbox, key="onsite-personalization", name="Again").full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == [
        "This sandbox already has a marketing action with this key."
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        MarketingAction.objects.create(sandbox=sandbox, key="onsite-personalization", name="Again")


def test_a_marketing_action_key_must_be_a_slug(sandbox):
    with pytest.raises(ValidationError) as excinfo:
        MarketingAction(sandbox=sandbox, key="Onsite Personalization", name="Onsite").full_clean()

    assert "key" in excinfo.value.message_dict


def test_two_policies_in_one_sandbox_cannot_share_a_name(sandbox):
    existing = PolicyFactory(marketing_action__sandbox=sandbox, name="No third-party exports")
    duplicate = Policy(
        sandbox=sandbox, name="No third-party exports", marketing_action=existing.marketing_action, deny={"label": "C1"}
    )

    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert excinfo.value.message_dict[NON_FIELD_ERRORS] == ["This sandbox already has a policy with this name."]

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_a_policy_cannot_deny_a_marketing_action_of_another_sandbox(sandbox, other_sandbox):
    foreign = MarketingActionFactory(sandbox=other_sandbox, name="Export to Third Party")

    with pytest.raises(ValidationError) as excinfo:
        Policy(sandbox=sandbox, name="No exports", marketing_action=foreign, deny={"label": "C1"}).full_clean()

    assert excinfo.value.message_dict["marketing_action"] == [
        "Export to Third Party belongs to another sandbox; pick one from this sandbox."
    ]


def test_a_policy_needs_a_deny_expression(sandbox):
    action = MarketingActionFactory(sandbox=sandbox)

    with pytest.raises(ValidationError) as excinfo:
        Policy(sandbox=sandbox, name="Empty", marketing_action=action, deny=None).full_clean()

    assert "deny" in excinfo.value.message_dict


@pytest.mark.parametrize(
    "expression",
    [
        {"label": "C1"},
        {"operator": "AND", "operands": [{"label": "C1"}, {"label": "C5"}]},
        {"operator": "OR", "operands": [{"label": "S1"}, {"operator": "AND", "operands": [{"label": "I1"}]}]},
    ],
)
def test_label_expressions_with_and_or_nesting_are_accepted(sandbox, expression):
    action = MarketingActionFactory(sandbox=sandbox)

    Policy(sandbox=sandbox, name="Policy", marketing_action=action, deny=expression).full_clean()


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (["C1"], "deny must be an object."),
        ("C1", "deny must be an object."),
        ({"label": ""}, "deny: label must be a code."),
        ({"label": 7}, "deny: label must be a code."),
        ({"operator": "XOR", "operands": [{"label": "C1"}]}, "deny: operator must be AND or OR."),
        ({"operands": [{"label": "C1"}]}, "deny: operator must be AND or OR."),
        ({"operator": "AND", "operands": []}, "deny: operands must be a non-empty list."),
        ({"operator": "AND", "operands": {"label": "C1"}}, "deny: operands must be a non-empty list."),
        ({"operator": "OR", "operands": [{"label": "C1"}, 5]}, "deny.operands[1] must be an object."),
        (
            {"operator": "OR", "operands": [{"operator": "AND", "operands": [{"label": "C1"}, {"label": ""}]}]},
            "deny.operands[0].operands[1]: label must be a code.",
        ),
    ],
)
def test_a_malformed_deny_expression_is_refused_saying_where(sandbox, expression, message):
    # given
    action = MarketingActionFactory(sandbox=sandbox)
    policy = Policy(sandbox=sandbox, name="Policy", marketing_action=action, deny=expression)
    # when
    with pytest.raises(ValidationError) as excinfo:
        policy.full_clean()
    # then
    assert excinfo.value.message_dict["deny"] == [message]


def test_the_deny_validator_can_be_called_on_its_own():
    with pytest.raises(ValidationError) as excinfo:
        validate_deny_expression({"operator": "NOT", "operands": [{"label": "C1"}]})

    assert excinfo.value.messages == ["deny: operator must be AND or OR."]
