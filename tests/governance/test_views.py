"""The governance pages: the policy builder, what a policy would block, enabling, and labelling fields."""

import pytest

from django.test import Client

from personalization.audiences.forms import rule_builder_config
from personalization.destinations.models import Destination
from personalization.governance.models import Label, MarketingAction, Policy
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    MappingFactory,
    ProfileFieldFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def steward_client(steward):
    client = Client()
    client.force_login(steward)
    return client


@pytest.fixture
def feed(sandbox):
    """The Partner feed exports email (labelled C2) to a third party; the core export policy is a draft."""
    email = ProfileFieldFactory(sandbox=sandbox, path="personalEmail.address")
    Label.objects.get(sandbox=sandbox, code="C2").fields.add(email)
    destination = DestinationFactory(
        datastream=DatastreamFactory(sandbox=sandbox), kind=Destination.Kind.WITH_ATTRIBUTES, name="Partner feed"
    )
    destination.marketing_actions.add(MarketingAction.objects.get(sandbox=sandbox, key="export-to-third-party"))
    ActivationFactory(destination=destination, audience=AudienceFactory(sandbox=sandbox, name="Members"))
    MappingFactory(destination=destination, source=email, target="email")
    return Policy.objects.get(sandbox=sandbox, name="Restrict data export to third parties")


def test_the_policy_list_reads_each_policy_and_its_status(steward_client):
    page = steward_client.get("/governance/").content.decode()

    assert "Deny Export to Third Party when data is labelled C2 or C12." in page
    assert "Draft" in page


def test_the_builder_makes_an_or_of_groups_from_the_ticked_labels(steward_client, sandbox):
    action = MarketingAction.objects.get(sandbox=sandbox, key="email-targeting")
    form = {"name": "No located email", "marketing_action": action.pk, "match": "OR", "groups": "1"}

    added = steward_client.post("/governance/policies/new/", {**form, "group-0-labels": ["S1"], "add_group": "1"})
    assert added.status_code == 200
    assert b"Group 2" in added.content
    assert not Policy.objects.filter(name="No located email").exists()

    response = steward_client.post(
        "/governance/policies/new/",
        {
            **form,
            "groups": "2",
            "group-0-match": "OR",
            "group-0-labels": ["S1"],
            "group-1-match": "AND",
            "group-1-labels": ["I1", "S2"],
        },
    )
    policy = Policy.objects.get(name="No located email")
    assert response.status_code == 302
    assert policy.status == Policy.Status.DRAFT
    assert policy.deny == {
        "operator": "OR",
        "operands": [{"label": "S1"}, {"operator": "AND", "operands": [{"label": "I1"}, {"label": "S2"}]}],
    }
    assert policy.reading() == "Deny Email Targeting when data is labelled S1 or (I1 and S2)."


def test_a_policy_without_labels_is_refused_next_to_the_labels(steward_client, sandbox):
    action = MarketingAction.objects.get(sandbox=sandbox, key="email-targeting")

    response = steward_client.post(
        "/governance/policies/new/", {"name": "Empty", "marketing_action": action.pk, "match": "OR", "groups": "1"}
    )

    assert response.status_code == 200
    assert "Choose at least one label" in response.content.decode()
    assert not Policy.objects.filter(name="Empty").exists()


def test_a_draft_page_says_what_it_would_block_and_enabling_it_is_refused_explained(steward_client, feed):
    page = steward_client.get(feed.get_absolute_url()).content.decode()
    assert "What it would block if enabled" in page
    assert "Partner feed" in page and "personalEmail.address" in page

    response = steward_client.post("/governance/policies/%d/status/" % feed.pk, {"enabled": "on"}, follow=True)
    text = response.content.decode()
    assert "stays a draft" in text
    assert "forbids this" in text
    feed.refresh_from_db()
    assert feed.status == Policy.Status.DRAFT


def test_a_policy_nothing_breaks_is_enabled_and_disabled_from_its_page(steward_client, sandbox):
    policy = Policy.objects.get(sandbox=sandbox, name="Restrict data science")

    steward_client.post("/governance/policies/%d/status/" % policy.pk, {"enabled": "on"})
    policy.refresh_from_db()
    assert policy.is_enabled
    steward_client.post("/governance/policies/%d/status/" % policy.pk, {})
    policy.refresh_from_db()
    assert not policy.is_enabled


def test_labelling_one_field_from_its_page(steward_client, sandbox):
    field = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.city")
    s2 = Label.objects.get(sandbox=sandbox, code="S2")

    response = steward_client.post("/governance/fields/%d/" % field.pk, {"labels": [s2.pk]})

    assert response.status_code == 302
    assert list(field.labels.values_list("code", flat=True)) == ["S2"]
    assert b"S2" in steward_client.get(field.get_absolute_url()).content


def test_a_label_an_enabled_policy_forbids_is_refused_on_the_field_page(steward_client, sandbox, feed):
    Policy.objects.filter(pk=feed.pk).update(status="enabled")
    Label.objects.get(sandbox=sandbox, code="C2").fields.clear()
    field = feed.sandbox.profile_fields.get(path="personalEmail.address")

    response = steward_client.post("/governance/fields/%d/" % field.pk, {"labels": [Label.objects.get(code="C2").pk]})

    assert response.status_code == 200
    assert "Restrict data export to third parties" in response.content.decode()
    assert not field.labels.exists()


def test_bulk_labelling_adds_the_ticked_labels_to_the_ticked_fields(steward_client, sandbox):
    fields = [ProfileFieldFactory(sandbox=sandbox, path="geo.%s" % name) for name in ("lat", "lon")]
    s1 = Label.objects.get(sandbox=sandbox, code="S1")

    response = steward_client.post(
        "/governance/fields/",
        {"profile_fields": [f.pk for f in fields], "labels": [s1.pk], "action": "add"},
        follow=True,
    )

    assert "S1 added to 2 fields." in response.content.decode()
    assert s1.fields.count() == 2


def test_the_rule_builder_names_a_fields_labels_next_to_its_path(sandbox):
    field = ProfileFieldFactory(sandbox=sandbox, path="personalEmail.address")
    Label.objects.get(sandbox=sandbox, code="I1").fields.add(field)

    config = rule_builder_config(user=UserFactory(is_superuser=True), sandbox_id=sandbox.pk)
    assert {"path": "personalEmail.address", "type": "string", "label": "personalEmail.address · text · I1"} in config[
        "fields"
    ]
