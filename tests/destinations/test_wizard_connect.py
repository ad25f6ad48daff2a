"""The connect wizard through the test client: every step's validation, Back, two tabs and permissions."""

import pytest

from django.urls import reverse

from accounts.constants import (
    ACTIVATE_DESTINATIONS,
    MANAGE_DATASTREAMS,
    MANAGE_DESTINATIONS,
    VIEW_ALERTS,
    VIEW_DESTINATIONS,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from personalization.alerts.models import AlertSubscription
from personalization.destinations.models import MAX_DESTINATIONS_PER_SANDBOX, Destination
from tests.factories import DatastreamFactory, DestinationFactory, MarketingActionFactory, UserFactory
from tests.utils.wizard import _wizard_post, open_wizard

pytestmark = pytest.mark.django_db

WITH_ATTRIBUTES = Destination.Kind.WITH_ATTRIBUTES
CONNECT = (VIEW_DESTINATIONS, MANAGE_DESTINATIONS)


def _url(kind=WITH_ATTRIBUTES):
    return reverse("destinations:destination_connect", args=[kind])


@pytest.fixture
def web(sandbox):
    return DatastreamFactory(sandbox=sandbox, name="Web")


@pytest.fixture
def manager(user, sandbox, grant):
    grant(user, sandbox, *CONNECT, VIEW_ALERTS)
    return user


@pytest.fixture
def wizard(client, manager):
    client.force_login(manager)
    return open_wizard(client, _url())


def _connection(datastream, **overrides):
    return {"name": "Homepage hero", "description": "", "alias": "heroBanner", "datastream": datastream.pk, **overrides}


def _errors(wizard, field):
    return wizard.form.errors.get(field, [])


# The whole way


def test_a_manager_connects_a_destination_with_alerts_and_marketing_actions_and_saves(wizard, manager, sandbox, web):
    # given
    onsite = MarketingActionFactory(sandbox=sandbox, name="Onsite Personalization")
    MarketingActionFactory(sandbox=sandbox, name="Export to Third Party")
    assert wizard.steps == ["connection", "alerts", "marketing"]
    # when
    _wizard_post(wizard, "connection", _connection(web, description="Spring campaign"))
    _wizard_post(wizard, "alerts", {"alert_types": ["activation_skipped_rate", "run_failure"]})
    response = _wizard_post(wizard, "marketing", {"marketing_actions": [onsite.pk]}, wizard_finish="exit")
    # then
    destination = Destination.objects.get()
    assert response.status_code == 302 and response["Location"] == destination.get_absolute_url()
    assert (destination.kind, destination.name, destination.description, destination.alias) == (
        WITH_ATTRIBUTES,
        "Homepage hero",
        "Spring campaign",
        "heroBanner",
    )
    assert destination.datastream == web and destination.created_by == manager
    assert list(destination.marketing_actions.all()) == [onsite]
    assert set(AlertSubscription.objects.filter(user=manager).values_list("alert_type", flat=True)) == {
        "activation_skipped_rate",
        "run_failure",
    }
    assert not [key for key in wizard.client.session.keys() if key.startswith("wizard_")]


def test_next_continues_into_the_activation_wizard_of_the_new_destination(client, user, sandbox, grant, web):
    grant(user, sandbox, *CONNECT, ACTIVATE_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS)
    client.force_login(user)
    wizard = open_wizard(client, _url())

    _wizard_post(wizard, "connection", _connection(web))
    assert 'value="activate"' in wizard.content  # "Next: activate audiences"
    response = _wizard_post(wizard, "marketing", {}, wizard_finish="activate")

    destination = Destination.objects.get()
    assert response["Location"] == reverse("destinations:destination_activate", args=[destination.pk])


def test_next_into_activation_is_not_offered_to_a_manager_who_cannot_activate(wizard, web):
    _wizard_post(wizard, "connection", _connection(web))
    _wizard_post(wizard, "alerts", {})

    assert wizard.step == "marketing"
    assert 'value="exit"' in wizard.content  # Save & Exit
    assert 'value="activate"' not in wizard.content
    response = _wizard_post(wizard, "marketing", {}, wizard_finish="activate")
    assert response["Location"] == Destination.objects.get().get_absolute_url()


def test_the_plain_card_connects_a_destination_that_returns_audiences_only(client, manager, web):
    client.force_login(manager)
    wizard = open_wizard(client, _url(Destination.Kind.CUSTOM_PERSONALIZATION))

    _wizard_post(wizard, "connection", _connection(web))
    _wizard_post(wizard, "alerts", {})
    _wizard_post(wizard, "marketing", {}, wizard_finish="exit")

    assert Destination.objects.get().kind == Destination.Kind.CUSTOM_PERSONALIZATION


# Connection parameters


def test_the_datastream_drop_down_offers_only_this_sandboxs_datastreams_with_personalization_on(
    wizard, sandbox, other_sandbox, web
):
    DatastreamFactory(sandbox=sandbox, name="Legacy", personalization_destinations=False)
    DatastreamFactory(sandbox=sandbox, name="Batch", platform_enabled=False)
    DatastreamFactory(sandbox=other_sandbox, name="Their web")
    app = DatastreamFactory(sandbox=sandbox, name="App")

    wizard = open_wizard(wizard.client, wizard.url)

    assert list(wizard.form.fields["datastream"].queryset) == [app, web]
    assert "About datastream IDs" in wizard.content
    assert "The drop-down menu shows only datastreams that have the destination configuration enabled." in (
        wizard.content
    )


def test_an_ineligible_datastream_posted_anyway_is_refused_next_to_the_field(wizard, sandbox):
    legacy = DatastreamFactory(sandbox=sandbox, name="Legacy", personalization_destinations=False)

    _wizard_post(wizard, "connection", _connection(legacy))

    assert wizard.step == "connection"
    assert _errors(wizard, "datastream") == ["Select a valid choice. That choice is not one of the available choices."]


def test_without_an_eligible_datastream_the_step_says_so_and_links_to_creating_one(client, user, sandbox, grant):
    grant(user, sandbox, *CONNECT, MANAGE_DATASTREAMS)
    client.force_login(user)

    wizard = open_wizard(client, _url())

    assert "No datastream of this sandbox has the platform service and Personalization Destinations" in (wizard.content)
    assert reverse("datastreams:datastream_create") in wizard.content


def test_without_manage_datastreams_the_step_says_whom_to_ask_instead_of_linking(wizard):
    assert "Ask someone with Manage Datastreams" in wizard.content
    assert reverse("datastreams:datastream_create") not in wizard.content


def test_name_alias_and_datastream_are_required_and_each_error_sits_on_its_field(wizard):
    _wizard_post(wizard, "connection", {"name": "", "description": "", "alias": "", "datastream": ""})

    assert wizard.step == "connection"
    assert set(wizard.form.errors) == {"name", "alias", "datastream"}
    assert 'id="id_connection-name_error"' in wizard.content


def test_an_alias_that_is_not_a_json_key_is_refused_with_what_to_use(wizard, web):
    _wizard_post(wizard, "connection", _connection(web, alias="hero banner!"))

    assert _errors(wizard, "alias") == [
        "Use 1–64 letters, digits or underscores, starting with a letter or underscore; "
        "the name becomes a JSON key in the lookup response."
    ]


def test_an_alias_already_used_on_the_datastream_is_refused_next_to_the_alias(wizard, web):
    DestinationFactory(datastream=web, alias="heroBanner")

    _wizard_post(wizard, "connection", _connection(web))

    assert wizard.step == "connection"
    assert _errors(wizard, "alias") == [
        "Another destination on this datastream already uses this integration alias; callers tell destinations "
        "apart by alias, so pick a different one."
    ]
    assert _errors(wizard, "datastream") == []


def test_past_ten_destinations_the_step_warns_but_lets_the_manager_go_on(wizard, sandbox, web):
    DestinationFactory.create_batch(10, datastream=web)

    wizard = open_wizard(wizard.client, wizard.url)
    assert "past the performance guardrail" in wizard.content
    _wizard_post(wizard, "connection", _connection(web))

    assert wizard.step == "alerts"


def test_the_101st_destination_is_refused_on_the_connection_step(wizard, sandbox, web):
    DestinationFactory.create_batch(MAX_DESTINATIONS_PER_SANDBOX, datastream=web)

    _wizard_post(wizard, "connection", _connection(web))

    assert wizard.step == "connection"
    assert wizard.form.non_field_errors() == [
        "This sandbox already has 100 destinations, the maximum is 100; delete a destination you no longer need first."
    ]


# Alerts and marketing actions


def test_the_alerts_step_offers_the_destinations_alerts_with_what_each_means(wizard, web):
    _wizard_post(wizard, "connection", _connection(web))

    assert wizard.step == "alerts"
    assert "Activation Skipped Rate Exceeded" in wizard.content
    assert "More than 1% (or your threshold) of a dataflow run&#x27;s profiles were skipped" in wizard.content


def test_an_alert_the_destination_does_not_offer_is_refused(wizard, web):
    _wizard_post(wizard, "connection", _connection(web))
    _wizard_post(wizard, "alerts", {"alert_types": ["run_success"]})

    assert wizard.step == "alerts"
    assert _errors(wizard, "alert_types") == ["Select a valid choice. run_success is not one of the available choices."]


def test_users_without_view_alerts_skip_the_alerts_step_and_get_no_subscription(client, user, sandbox, grant, web):
    grant(user, sandbox, *CONNECT)
    client.force_login(user)
    wizard = open_wizard(client, _url())

    assert wizard.steps == ["connection", "marketing"]
    _wizard_post(wizard, "connection", _connection(web))
    _wizard_post(wizard, "marketing", {}, wizard_finish="exit")
    assert Destination.objects.count() == 1 and not AlertSubscription.objects.exists()


def test_a_marketing_action_of_another_sandbox_is_refused(wizard, other_sandbox, web):
    foreign = MarketingActionFactory(sandbox=other_sandbox)

    _wizard_post(wizard, "connection", _connection(web))
    _wizard_post(wizard, "alerts", {})
    _wizard_post(wizard, "marketing", {"marketing_actions": [foreign.pk]}, wizard_finish="exit")

    assert wizard.step == "marketing"
    assert "is not one of the available choices" in _errors(wizard, "marketing_actions")[0]
    assert not Destination.objects.exists()


# Back, two tabs, a lost session


def test_back_keeps_what_was_entered_on_both_steps(wizard, web):
    _wizard_post(wizard, "connection", _connection(web))
    _wizard_post(wizard, "alerts", {"alert_types": ["run_delay"]}, wizard_goto_step="connection")

    assert wizard.step == "connection"
    assert wizard.form["name"].value() == "Homepage hero"
    assert wizard.form["alias"].value() == "heroBanner"
    _wizard_post(wizard, "connection", _connection(web))
    assert wizard.step == "alerts"
    assert wizard.form["alert_types"].value() == ["run_delay"]


def test_back_from_an_invalid_step_keeps_the_invalid_input_too(wizard, web):
    _wizard_post(wizard, "connection", _connection(web))
    _wizard_post(wizard, "alerts", {"alert_types": ["bogus"]}, wizard_goto_step="connection")
    _wizard_post(wizard, "connection", _connection(web))

    assert wizard.step == "alerts"
    assert wizard.form["alert_types"].value() == ["bogus"]


def test_a_step_link_cannot_skip_ahead(wizard, web):
    _wizard_post(wizard, "connection", _connection(web), wizard_goto_step="marketing")

    assert wizard.step == "connection"


def test_two_tabs_with_two_wizards_do_not_overwrite_each_other(client, manager, sandbox, web):
    client.force_login(manager)
    first = open_wizard(client, _url())
    second = open_wizard(client, _url())
    assert first.prefix != second.prefix

    _wizard_post(first, "connection", _connection(web, name="First", alias="first"))
    _wizard_post(second, "connection", _connection(web, name="Second", alias="second"))
    _wizard_post(first, "alerts", {}, wizard_goto_step="connection")

    assert first.form["name"].value() == "First"
    _wizard_post(first, "connection", _connection(web, name="First", alias="first"))
    _wizard_post(first, "alerts", {})
    _wizard_post(first, "marketing", {}, wizard_finish="exit")
    _wizard_post(second, "alerts", {})
    _wizard_post(second, "marketing", {}, wizard_finish="exit")
    assert sorted(Destination.objects.values_list("name", "alias")) == [("First", "first"), ("Second", "second")]


def test_posting_a_finished_wizard_again_starts_over_and_creates_nothing_twice(wizard, web):
    _wizard_post(wizard, "connection", _connection(web))
    _wizard_post(wizard, "alerts", {})
    _wizard_post(wizard, "marketing", {}, wizard_finish="exit")

    response = _wizard_post(wizard, "marketing", {}, wizard_finish="exit")

    assert response.status_code == 200 and wizard.step == "connection"
    assert "This wizard started over" in wizard.content
    assert Destination.objects.count() == 1


def test_a_datastream_turned_off_meanwhile_sends_the_user_back_to_the_connection_step(wizard, web):
    _wizard_post(wizard, "connection", _connection(web))
    web.personalization_destinations = False
    web.save()

    _wizard_post(wizard, "alerts", {})

    assert wizard.step == "connection"
    assert "is not one of the available choices" in _errors(wizard, "datastream")[0]


def test_abandoned_wizards_do_not_pile_up_in_the_session(client, manager):
    client.force_login(manager)
    for _ in range(15):
        open_wizard(client, _url())

    assert len([key for key in client.session.keys() if key.startswith("wizard_destination_connect")]) == 10


# Who may connect


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(_url())

    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_viewer_is_refused_the_wizard(client, user, sandbox, grant, method):
    grant(user, sandbox, VIEW_DESTINATIONS, VIEW_ALERTS)
    client.force_login(user)

    assert getattr(client, method)(_url()).status_code == 403
    assert not Destination.objects.exists()


def test_managing_destinations_in_another_sandbox_only_is_not_enough(client, user, sandbox, other_sandbox, grant):
    grant(user, sandbox, VIEW_DESTINATIONS)
    grant(user, other_sandbox, *CONNECT)
    client.force_login(user)

    assert client.get(_url()).status_code == 403


def test_an_unknown_card_is_not_found(client, manager):
    client.force_login(manager)

    assert client.get(_url("custom_email")).status_code == 404


def test_a_manager_who_loses_the_permission_mid_wizard_is_refused_and_nothing_is_saved(wizard, manager, web):
    _wizard_post(wizard, "connection", _connection(web))
    manager.groups.clear()
    UserFactory(username="someone-else")

    response = _wizard_post(wizard, "alerts", {})

    assert response.status_code == 403
    assert not Destination.objects.exists()
