"""The governance API: policies and labels (sandbox-scoped), the constraints endpoint, and labels on fields."""

import pytest

from django.urls import reverse

from accounts import constants as perms
from personalization.destinations.models import Destination
from personalization.governance.models import Label, MarketingAction, Policy
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    LabelFactory,
    MappingFactory,
    PolicyFactory,
    ProfileFieldFactory,
)
from tests.governance.conftest import STEWARD
from tests.utils.permissions import APIViewTestCases

pytestmark = pytest.mark.django_db


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


class TestPolicyEndpoints(
    APIViewTestCases.ListView,
    APIViewTestCases.RetrieveView,
    APIViewTestCases.CreateView,
    APIViewTestCases.UpdateView,
    APIViewTestCases.DeleteView,
):
    basename = "policy"
    view_permission = perms.VIEW_POLICIES
    change_permission = perms.MANAGE_POLICIES

    def make_object(self, sandbox):
        action = MarketingAction.objects.get(sandbox=sandbox, key="email-targeting")
        return PolicyFactory(marketing_action=action, name="No located email", deny={"label": "S1"})

    def create_data(self, sandbox):
        action = MarketingAction.objects.get(sandbox=sandbox, key="analytics")
        return {
            "sandbox": sandbox.name,
            "name": "No I2 analytics",
            "marketing_action": action.pk,
            "deny": {"label": "I2"},
        }

    def update_data(self, sandbox):
        return {"description": "Contract 2026-14."}


class TestLabelEndpoints(APIViewTestCases.ListView, APIViewTestCases.RetrieveView, APIViewTestCases.CreateView):
    basename = "label"
    view_permission = perms.VIEW_POLICIES
    change_permission = perms.MANAGE_POLICIES

    def make_object(self, sandbox):
        return LabelFactory(sandbox=sandbox, code="PARTNER", category="custom")

    def create_data(self, sandbox):
        return {"sandbox": sandbox.name, "code": "RESEARCH", "name": "Research only"}


@pytest.fixture
def steward(user, sandbox, grant):
    """The API tests' signed-in `user`, made a data steward."""
    grant(user, sandbox, *STEWARD)
    return user


def _constraints(client, action, query):
    url = reverse("api:marketing-action-constraints", args=[action.pk])
    return client.get(url + "?" + query)


def test_constraints_name_the_enabled_policies_a_label_set_violates(user_client, steward, sandbox):
    export = MarketingAction.objects.get(sandbox=sandbox, key="export-to-third-party")
    Policy.objects.filter(sandbox=sandbox, marketing_action=export).update(status="enabled")

    answer = _constraints(user_client, export, "duleLabels=C2,I1").json()

    assert answer["duleLabels"] == ["C2", "I1"]
    assert [(p["name"], p["status"], p["matchedLabels"]) for p in answer["violatedPolicies"]] == [
        ("Restrict data export to third parties", "ENABLED", ["C2"])
    ]
    assert answer["violatedPolicies"][0]["marketingActionRefs"] == ["export-to-third-party"]
    assert _constraints(user_client, export, "duleLabels=I1").json()["violatedPolicies"] == []


def test_constraints_evaluate_drafts_only_when_asked(user_client, steward, sandbox):
    export = MarketingAction.objects.get(sandbox=sandbox, key="export-to-third-party")

    assert _constraints(user_client, export, "duleLabels=C12").json()["violatedPolicies"] == []
    drafts = _constraints(user_client, export, "duleLabels=C12&includeDraft=true").json()["violatedPolicies"]
    assert [(p["name"], p["status"]) for p in drafts] == [("Restrict data export to third parties", "DRAFT")]


def test_constraints_refuse_an_unknown_label_naming_it(user_client, steward, sandbox):
    export = MarketingAction.objects.get(sandbox=sandbox, key="export-to-third-party")

    response = _constraints(user_client, export, "duleLabels=C2,C99")

    assert response.status_code == 400
    assert "No label C99 in this sandbox" in response.content.decode()


def test_enabling_a_policy_current_activations_break_answers_400_explained(user_client, steward, sandbox):
    email = ProfileFieldFactory(sandbox=sandbox, path="personalEmail.address")
    Label.objects.get(sandbox=sandbox, code="C2").fields.add(email)
    feed = DestinationFactory(
        datastream=DatastreamFactory(sandbox=sandbox), kind=Destination.Kind.WITH_ATTRIBUTES, name="Partner feed"
    )
    export = MarketingAction.objects.get(sandbox=sandbox, key="export-to-third-party")
    feed.marketing_actions.add(export)
    ActivationFactory(destination=feed, audience=AudienceFactory(sandbox=sandbox))
    MappingFactory(destination=feed, source=email, target="email")
    policy = Policy.objects.get(sandbox=sandbox, name="Restrict data export to third parties")

    impact = user_client.get(reverse("api:policy-impact", args=[policy.pk])).json()
    assert [(row["destination_name"], row["fields"]) for row in impact] == [("Partner feed", ["personalEmail.address"])]
    response = post(user_client, reverse("api:policy-enable", args=[policy.pk]))
    assert response.status_code == 400
    assert "Partner feed" in response.content.decode()
    policy.refresh_from_db()
    assert policy.status == Policy.Status.DRAFT


def test_a_fields_labels_are_replaced_with_put(user_client, steward, sandbox):
    field = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.city")
    url = reverse("api:field-labels-detail", args=[field.pk])

    response = user_client.put(url, {"labels": ["S2", "I2"]}, content_type="application/json")

    assert response.status_code == 200, response.content
    assert sorted(field.labels.values_list("code", flat=True)) == ["I2", "S2"]
    assert sorted(user_client.get(url).json()["labels"]) == ["I2", "S2"]


def test_a_label_code_of_another_sandbox_is_refused_on_a_field(user_client, steward, sandbox, other_sandbox):
    field = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.city")
    LabelFactory(sandbox=other_sandbox, code="ELSEWHERE", category="custom")

    response = user_client.put(
        reverse("api:field-labels-detail", args=[field.pk]), {"labels": ["ELSEWHERE"]}, content_type="application/json"
    )

    assert response.status_code == 400
    assert not field.labels.exists()
