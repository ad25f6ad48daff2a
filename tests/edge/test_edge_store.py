"""The edge store: warm lookups touch no SQL, cold ones a bounded number, and every change shows at once."""

import pytest

from django.core.management import call_command
from django.utils import timezone

from personalization.audiences.models import Audience, AudienceMembership
from personalization.destinations.models import Destination
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DestinationFactory,
    MappingFactory,
    MembershipFactory,
    ProfileFieldFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_scenario(scenario, django_capture_on_commit_callbacks):
    """Ten destinations with twenty activated audiences each and ten mappings on the attribute ones."""
    with django_capture_on_commit_callbacks(execute=True):
        fields = [ProfileFieldFactory(sandbox=scenario.sandbox, path="extra.f%d" % n) for n in range(10)]
        for d in range(8):
            kind = Destination.Kind.WITH_ATTRIBUTES if d % 2 else Destination.Kind.CUSTOM_PERSONALIZATION
            destination = DestinationFactory(datastream=scenario.datastream, alias="busy%d" % d, kind=kind)
            for _a in range(20):
                audience = AudienceFactory(sandbox=scenario.sandbox)
                ActivationFactory(destination=destination, audience=audience)
                MembershipFactory(audience=audience, profile=scenario.profile)
            if kind == Destination.Kind.WITH_ATTRIBUTES:
                for n, field in enumerate(fields):
                    MappingFactory(destination=destination, source=field, target="t%d" % n)
    return scenario


def test_a_cold_lookup_runs_at_most_three_queries_whatever_the_configuration(
    busy_scenario, django_assert_max_num_queries
):
    headers = busy_scenario.auth_headers()
    busy_scenario.lookup(headers=headers)  # a warm process: connection-level feature checks are done
    from django.core.cache import cache

    cache.clear()

    with django_assert_max_num_queries(3):
        response = busy_scenario.lookup(headers=headers)

    assert len(busy_scenario.payload(response)) == 10


def test_a_warm_lookup_runs_no_query(busy_scenario, django_assert_num_queries):
    headers = busy_scenario.auth_headers()
    busy_scenario.lookup(headers=headers)

    with django_assert_num_queries(0):
        response = busy_scenario.lookup(headers=headers)

    assert len(busy_scenario.payload(response)) == 10


def test_a_warm_unknown_visitor_runs_no_query(scenario, django_assert_num_queries):
    scenario.lookup(scenario.body(value="7" * 38))

    with django_assert_num_queries(0):
        assert scenario.payload(scenario.lookup(scenario.body(value="7" * 38))) == []


def segment_ids(scenario, alias="personalizationAlias", headers=None):
    return {segment["id"] for segment in scenario.entry(scenario.lookup(headers=headers), alias)["segments"]}


@pytest.fixture
def change(django_capture_on_commit_callbacks):
    """Run a change the way production does: its invalidations fire when the transaction commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_new_membership_shows_on_the_next_lookup(scenario, change):
    newcomers = AudienceFactory(sandbox=scenario.sandbox)
    with change():
        ActivationFactory(destination=scenario.audiences_only, audience=newcomers)
    assert str(newcomers.pk) not in segment_ids(scenario)

    with change():
        MembershipFactory(audience=newcomers, profile=scenario.profile)

    assert str(newcomers.pk) in segment_ids(scenario)


def test_an_exit_shows_on_the_next_lookup(scenario, change):
    assert str(scenario.gold.pk) in segment_ids(scenario)
    membership = AudienceMembership.objects.get(audience=scenario.gold, profile=scenario.profile)

    with change():
        membership.status, membership.exited_at = AudienceMembership.Status.EXITED, timezone.now()
        membership.save()

    assert str(scenario.gold.pk) not in segment_ids(scenario)


def test_a_new_activation_shows_on_the_next_lookup(scenario, change):
    assert str(scenario.germans.pk) not in segment_ids(scenario)

    with change():
        ActivationFactory(destination=scenario.audiences_only, audience=scenario.germans)

    assert str(scenario.germans.pk) in segment_ids(scenario)


def test_a_removed_activation_disappears_on_the_next_lookup(scenario, change):
    assert str(scenario.gold.pk) in segment_ids(scenario)

    with change():
        scenario.audiences_only.activations.get(audience=scenario.gold).delete()

    assert segment_ids(scenario) == set()


def test_a_schedule_change_shows_on_the_next_lookup(scenario, change):
    assert str(scenario.gold.pk) in segment_ids(scenario)
    activation = scenario.audiences_only.activations.get(audience=scenario.gold)

    with change():
        activation.start_date = scenario.today(5)
        activation.save()

    assert segment_ids(scenario) == set()


def test_a_schedule_that_opens_later_serves_once_its_start_passes(scenario, monkeypatch, change):
    activation = scenario.audiences_only.activations.get(audience=scenario.gold)
    with change():
        activation.start_date = scenario.today(1)
        activation.save()
    assert segment_ids(scenario) == set()

    import time

    tomorrow = time.time() + 86400 + 60
    monkeypatch.setattr("personalization.edge.lookup.time.time", lambda: tomorrow)

    assert str(scenario.gold.pk) in segment_ids(scenario)


def test_a_new_mapping_shows_on_the_next_authenticated_lookup(scenario, change):
    headers = scenario.auth_headers()
    assert "points" not in scenario.entry(scenario.lookup(headers=headers), "adServerAlias")["attributes"]

    with change():
        MappingFactory(destination=scenario.with_attributes, source=scenario.points, target="points")

    attributes = scenario.entry(scenario.lookup(headers=headers), "adServerAlias")["attributes"]
    assert attributes["points"] == {"value": 1200}


def test_an_attribute_change_shows_on_the_next_authenticated_lookup(scenario, change):
    headers = scenario.auth_headers()
    scenario.lookup(headers=headers)

    with change():
        scenario.profile.attributes["homeAddress"]["countryCode"] = "FR"
        scenario.profile.save()

    attributes = scenario.entry(scenario.lookup(headers=headers), "adServerAlias")["attributes"]
    assert attributes["countryCode"] == {"value": "FR"}


def test_disabling_a_destination_shows_on_the_next_lookup(scenario, change):
    scenario.lookup()

    with change():
        scenario.audiences_only.enabled = False
        scenario.audiences_only.save()

    assert [entry["alias"] for entry in scenario.payload(scenario.lookup())] == ["adServerAlias"]


def test_inactivating_an_audience_shows_on_the_next_lookup(scenario, change):
    scenario.lookup()

    with change():
        scenario.gold.status = Audience.Status.INACTIVE
        scenario.gold.save()

    assert segment_ids(scenario) == set()


def test_a_new_identity_for_a_known_profile_is_recognised_at_once(scenario, change):
    from tests.factories import IdentityFactory

    body = scenario.body(namespace="Email", value="ada.new@example.com")
    assert scenario.payload(scenario.lookup(body)) == []

    with change():
        IdentityFactory(profile=scenario.profile, namespace=scenario.email_ns, value="ada.new@example.com")

    assert scenario.payload(scenario.lookup(body)) != []


def test_losing_the_edge_store_loses_nothing(scenario):
    before = scenario.lookup().json()["handle"]
    from django.core.cache import cache

    cache.clear()

    assert scenario.lookup().json()["handle"] == before


def test_edge_rebuild_refills_the_store_so_the_next_lookup_is_warm(scenario, django_assert_num_queries):
    call_command("edge_rebuild", verbosity=0)

    with django_assert_num_queries(0):
        assert scenario.payload(scenario.lookup()) != []
