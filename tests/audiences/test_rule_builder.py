"""The rule builder pages: creating and editing an audience, the live estimate, publishing, and who may do what."""

import html
import json

import pytest

from django.urls import reverse

from accounts.constants import MANAGE_SEGMENTS, VIEW_PROFILES, VIEW_SEGMENTS
from personalization.audiences.models import Audience, AudienceEvaluation, AudienceMembership
from tests.factories import AudienceFactory, ProfileFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db

GOLD = {"field": "loyalty.status", "op": "equals", "value": "gold"}
CHECKOUT = {"event": "eventType", "op": "equals", "value": "commerce.checkouts"}
RULE = {
    "all": [
        GOLD,
        {
            "any": [
                {"field": "homeAddress.countryCode", "op": "in", "value": ["DE", "AT"]},
                {"field": "loyalty.points", "op": "gte", "value": 1000},
            ]
        },
    ]
}
ADD = reverse("audiences:audience_create")
ESTIMATE = reverse("audiences:audience_estimate")


@pytest.fixture
def schema(sandbox):
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.points", field_type="number")
    ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")
    ProfileFieldFactory(sandbox=sandbox, path="newsletter", field_type="boolean")
    return sandbox


@pytest.fixture
def profiles(schema):
    """Gold in DE, gold in FR with 1500 points, gold in FR, silver in AT, and one without attributes."""
    for status, country, points in (("gold", "DE", 0), ("gold", "FR", 1500), ("gold", "FR", 10), ("silver", "AT", 0)):
        ProfileFactory(
            sandbox=schema,
            attributes={"loyalty": {"status": status, "points": points}, "homeAddress": {"countryCode": country}},
        )
    ProfileFactory(sandbox=schema, attributes={})
    return schema


@pytest.fixture
def manager_client(client, user, schema, grant):
    grant(user, schema, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(client, user, schema, grant):
    grant(user, schema, VIEW_SEGMENTS)
    client.force_login(user)
    return client


def builder_data(rule=RULE, **fields):
    data = {"name": "Gold in DACH", "description": "Gold members at home in Germany or Austria", "evaluation": "batch"}
    data.update(fields)
    data["rule"] = rule if isinstance(rule, str) else json.dumps(rule)
    return data


#
# Creating and editing
#


def test_a_manager_creates_a_draft_audience_from_a_valid_rule(manager_client, user, schema):
    response = manager_client.post(ADD, builder_data(evaluation="streaming"))

    audience = Audience.objects.get()
    assert response.status_code == 302 and response["Location"] == audience.get_absolute_url()
    assert (audience.name, audience.status, audience.evaluation) == ("Gold in DACH", "draft", "streaming")
    assert audience.rule == RULE and audience.sandbox == schema and audience.created_by == user
    assert not AudienceEvaluation.objects.exists()
    page = manager_client.get(response["Location"]).content.decode()
    assert "Gold in DACH was saved as a draft." in page


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"all": [{"field": "loyalty.tier", "op": "equals", "value": "gold"}]},
            "all[0].field: no profile field loyalty.tier in this sandbox; add it to the profile schema first. "
            "Did you mean loyalty.status?",
        ),
        (
            {"all": [{"field": "loyalty.status", "op": "gt", "value": "gold"}]},
            "all[0].op: gt does not apply to loyalty.status (a string field); use one of equals, not_equals, in, "
            "contains, starts_with, exists.",
        ),
        (
            {"all": [GOLD, {"any": [{"field": "loyalty.points", "op": "gte", "value": "lots"}]}]},
            'all[1].any[0].value: loyalty.points (a number field) takes a number, not the string "lots".',
        ),
        ("{not json", "Enter a valid JSON."),
    ],
    ids=["unknown field", "operator of another type", "value of another type", "not JSON"],
)
def test_an_invalid_rule_is_shown_with_its_specific_message_and_nothing_is_saved(manager_client, rule, message):
    response = manager_client.post(ADD, builder_data(rule))

    assert response.status_code == 200
    assert message in response.context["form"].errors["rule"]
    assert html.escape(message) in response.content.decode()
    assert not Audience.objects.exists()


def test_a_name_already_taken_in_the_sandbox_is_refused_next_to_the_name(manager_client, schema):
    AudienceFactory(sandbox=schema, name="Gold in DACH")

    response = manager_client.post(ADD, builder_data())

    assert response.context["form"].errors["name"] == ["An audience with this name already exists in this sandbox."]
    assert Audience.objects.count() == 1


def test_the_builder_offers_the_sandboxs_fields_with_their_types_and_its_other_audiences(manager_client, schema):
    ProfileFieldFactory(sandbox=schema, path="preferences", field_type="map")
    AudienceFactory(sandbox=schema, name="VIP")
    AudienceFactory(sandbox=schema, name="Lapsed", status=Audience.Status.INACTIVE)

    config = manager_client.get(ADD).context["form"].builder_config()

    assert [field["label"] for field in config["fields"]] == [
        "homeAddress.countryCode · text",
        "loyalty.points · number",
        "loyalty.status · text",
        "newsletter · true/false",
    ]
    assert [audience["label"] for audience in config["audiences"]] == ["Lapsed (inactive)", "VIP"]
    assert [event["label"] for event in config["events"]] == ["Event type", "Page URL"]
    assert config["operators"]["boolean"] == ["equals", "exists"]


def test_the_edit_page_renders_the_existing_rule_back_into_the_builder(manager_client, schema):
    audience = AudienceFactory(sandbox=schema, name="Gold", status=Audience.Status.DRAFT, rule=RULE)

    response = manager_client.get(reverse("audiences:audience_edit", args=[audience.pk]))

    assert response.status_code == 200
    assert json.loads(response.context["form"]["rule"].value()) == RULE
    content = response.content.decode()
    assert 'data-rule-builder data-rule-field="id_rule"' in content
    assert html.escape('"homeAddress.countryCode"', quote=True) in content
    assert "Save as draft" in content


def test_saving_a_changed_rule_of_a_published_audience_re_evaluates_it(manager_client, schema):
    audience = AudienceFactory(sandbox=schema, name="Gold", rule=GOLD)

    response = manager_client.post(reverse("audiences:audience_edit", args=[audience.pk]), builder_data(name="Gold"))

    audience.refresh_from_db()
    assert response.status_code == 302
    assert audience.rule == RULE and audience.status == Audience.Status.PUBLISHED
    assert AudienceEvaluation.objects.get(audience=audience).status == AudienceEvaluation.Status.QUEUED


def test_an_invalid_edit_keeps_the_saved_rule(manager_client, schema):
    audience = AudienceFactory(sandbox=schema, name="Gold", rule=GOLD)
    broken = {"all": [{"field": "newsletter", "op": "equals", "value": "yes"}]}

    response = manager_client.post(reverse("audiences:audience_edit", args=[audience.pk]), builder_data(broken))

    assert (
        'all[0].value: newsletter (a boolean field) takes true or false, not the string "yes".'
        in (response.context["form"].errors["rule"])
    )
    audience.refresh_from_db()
    assert audience.rule == GOLD


def test_a_custom_upload_audience_edits_only_its_name_and_description(manager_client, schema):
    upload = AudienceFactory(sandbox=schema, name="CRM", origin=Audience.Origin.CUSTOM_UPLOAD)
    url = reverse("audiences:audience_edit", args=[upload.pk])

    page = manager_client.get(url)
    response = manager_client.post(url, builder_data(name="CRM gold", description="From the CRM"))

    assert list(page.context["form"].fields) == ["name", "description"]
    assert "data-rule-builder" not in page.content.decode()
    upload.refresh_from_db()
    assert response.status_code == 302
    assert (upload.name, upload.description, upload.rule) == ("CRM gold", "From the CRM", None)


def test_the_detail_page_offers_edit_rule_for_segmentation_and_edit_for_uploads(manager_client, schema):
    segment = AudienceFactory(sandbox=schema, rule=GOLD)
    upload = AudienceFactory(sandbox=schema, origin=Audience.Origin.CUSTOM_UPLOAD)

    assert "Edit rule" in manager_client.get(segment.get_absolute_url()).content.decode()
    upload_page = manager_client.get(upload.get_absolute_url()).content.decode()
    assert "Edit rule" not in upload_page and reverse("audiences:audience_edit", args=[upload.pk]) in upload_page


#
# Publishing
#


def test_publishing_a_draft_makes_it_published_and_queues_its_evaluation(manager_client, schema):
    audience = AudienceFactory(sandbox=schema, name="Gold", status=Audience.Status.DRAFT, rule=GOLD)

    response = manager_client.post(reverse("audiences:audience_publish", args=[audience.pk]), follow=True)

    audience.refresh_from_db()
    assert audience.status == Audience.Status.PUBLISHED
    evaluation = AudienceEvaluation.objects.get(audience=audience)
    assert (evaluation.trigger, evaluation.status) == ("publish", "queued")
    content = response.content.decode()
    assert "Gold is published." in content and "Evaluation queued" in content
    assert 'loyalty.status equals "gold"' in html.unescape(content)


def test_a_published_audience_gets_its_members_once_the_evaluation_runs(
    manager_client, profiles, django_capture_on_commit_callbacks
):
    audience = AudienceFactory(sandbox=profiles, status=Audience.Status.DRAFT, rule=RULE)

    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(reverse("audiences:audience_publish", args=[audience.pk]))

    assert AudienceMembership.objects.filter(audience=audience).count() == 2


def test_an_inactive_audience_can_be_published_again(manager_client, schema):
    audience = AudienceFactory(sandbox=schema, status=Audience.Status.INACTIVE, rule=GOLD)

    assert "Publish again" in manager_client.get(audience.get_absolute_url()).content.decode()
    manager_client.post(reverse("audiences:audience_publish", args=[audience.pk]))

    audience.refresh_from_db()
    assert audience.status == Audience.Status.PUBLISHED


def test_publishing_a_draft_without_a_rule_is_refused_with_a_message(manager_client, schema):
    audience = AudienceFactory(sandbox=schema, name="Empty", status=Audience.Status.DRAFT, rule=None)

    response = manager_client.post(reverse("audiences:audience_publish", args=[audience.pk]), follow=True)

    assert "Write the audience&#x27;s rule before you publish it" in response.content.decode()
    audience.refresh_from_db()
    assert audience.status == Audience.Status.DRAFT


#
# The live estimate
#


def test_the_estimate_shows_how_many_profiles_match_the_rule_and_its_readable_line(manager_client, profiles):
    response = manager_client.post(ESTIMATE, {"rule": json.dumps(RULE), "evaluation": "batch"})

    content = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert response.context["estimate"].matching == 2
    assert '<strong class="stat" data-estimate-count>2</strong>' in content
    assert "of 5 profiles in the sandbox qualify now" in content
    assert (
        'loyalty.status equals "gold" and (homeAddress.countryCode in ["DE", "AT"] or loyalty.points >= 1000)'
        in content
    )
    assert "Edge-eligible" in content
    assert "Profile-only rule: the edge evaluates it against the profile." in content


def test_the_estimate_of_an_edge_audience_whose_rule_the_edge_cannot_evaluate_says_so(manager_client, profiles):
    uploaded = AudienceFactory(sandbox=profiles, name="CRM list", origin=Audience.Origin.CUSTOM_UPLOAD)
    rule = {"all": [CHECKOUT, {"in_audience": str(uploaded.pk)}]}

    response = manager_client.post(ESTIMATE, {"rule": json.dumps(rule), "evaluation": "edge"})

    content = html.unescape(response.content.decode())
    assert "Not edge-eligible" in content
    assert 'in_audience "CRM list", which is not a profile-only audience' in content
    assert "Edge evaluation is chosen, but the edge cannot evaluate this rule" in content
    assert "Event conditions are left out of the count" in content


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"all": [{"field": "loyalty.points", "op": "between", "value": [10, 1]}]},
            "all[0].value: the low end 10 is above the high end 1.",
        ),
        ("[1, 2", "Rule: Enter a valid JSON."),
    ],
)
def test_the_estimate_of_an_invalid_rule_lists_the_problems_instead_of_failing(manager_client, profiles, rule, message):
    response = manager_client.post(
        ESTIMATE, {"rule": rule if isinstance(rule, str) else json.dumps(rule), "evaluation": "batch"}
    )

    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert "data-estimate-count" not in response.content.decode()


def test_the_estimate_for_an_existing_audience_counts_in_its_sandbox_and_sees_cycles(manager_client, schema):
    audience = AudienceFactory(sandbox=schema, name="Gold", rule=GOLD)
    url = reverse("audiences:audience_estimate_for", args=[audience.pk])

    response = manager_client.post(url, {"rule": json.dumps({"in_audience": str(audience.pk)}), "evaluation": "batch"})

    assert "in_audience: an audience cannot include itself." in response.content.decode()


#
# Permissions: View Segments to see, Manage Segments to change; other sandboxes' audiences are not found
#


def test_the_create_button_is_shown_only_to_managers(client, user, schema, grant):
    client.force_login(user)
    grant(user, schema, VIEW_SEGMENTS)
    assert "Create audience" not in client.get(reverse("audiences:audience_list")).content.decode()
    grant(user, schema, MANAGE_SEGMENTS)
    assert "Create audience" in client.get(reverse("audiences:audience_list")).content.decode()


def test_viewers_see_no_write_buttons_and_their_posts_are_forbidden(viewer_client, schema):
    draft = AudienceFactory(sandbox=schema, status=Audience.Status.DRAFT, rule=GOLD)

    page = viewer_client.get(draft.get_absolute_url()).content.decode()
    assert "Edit rule" not in page and "Publish" not in page
    assert viewer_client.get(ADD).status_code == 403
    assert viewer_client.post(ADD, builder_data()).status_code == 403
    assert viewer_client.post(reverse("audiences:audience_edit", args=[draft.pk]), builder_data()).status_code == 403
    assert viewer_client.post(reverse("audiences:audience_publish", args=[draft.pk])).status_code == 403
    draft.refresh_from_db()
    assert (Audience.objects.count(), draft.status, draft.rule) == (1, Audience.Status.DRAFT, GOLD)


def test_viewers_may_use_the_estimate(viewer_client, profiles):
    response = viewer_client.post(ESTIMATE, {"rule": json.dumps(GOLD), "evaluation": "batch"})

    assert response.status_code == 200 and response.context["estimate"].matching == 3


def test_the_estimate_is_forbidden_without_view_segments(client, user, schema, grant):
    grant(user, schema, VIEW_PROFILES)
    client.force_login(user)
    audience = AudienceFactory(sandbox=schema)

    assert client.post(ESTIMATE, {"rule": json.dumps(GOLD), "evaluation": "batch"}).status_code == 403
    url = reverse("audiences:audience_estimate_for", args=[audience.pk])
    assert client.post(url, {"rule": json.dumps(GOLD), "evaluation": "batch"}).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.post(ESTIMATE, {"rule": json.dumps(GOLD), "evaluation": "batch"})

    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_another_sandboxs_audience_is_not_found_on_every_builder_route(manager_client, other_sandbox):
    elsewhere = AudienceFactory(sandbox=other_sandbox, status=Audience.Status.DRAFT, rule=None)
    data = {"rule": json.dumps(GOLD), "evaluation": "batch"}

    assert manager_client.get(reverse("audiences:audience_edit", args=[elsewhere.pk])).status_code == 404
    assert manager_client.post(reverse("audiences:audience_estimate_for", args=[elsewhere.pk]), data).status_code == 404
    assert manager_client.post(reverse("audiences:audience_publish", args=[elsewhere.pk])).status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.status == Audience.Status.DRAFT
