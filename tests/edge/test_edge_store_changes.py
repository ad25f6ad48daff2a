"""
A marketer's change rewrites the datastream's config entry and no visitor's profile entry, so lookups stay warm;
an edit no answer depends on changes nothing in the store at all.
"""

import pytest

from personalization.audiences.models import Audience
from personalization.edge.store import identity_key, key_of
from tests.factories import ActivationFactory, AudienceFactory, MappingFactory

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def facts_entry(store, scenario):
    return store._get(key_of("pf", scenario.sandbox.pk, identity_key("ECID", scenario.ecid.value)))


def config_version(store, scenario):
    return store._get(key_of("dsv", scenario.datastream.pk))


def segment_ids(scenario, alias="personalizationAlias"):
    return {segment["id"] for segment in scenario.entry(scenario.lookup(), alias)["segments"]}


def add_activation(scenario):
    ActivationFactory(destination=scenario.audiences_only, audience=scenario.germans)


def remove_activation(scenario):
    scenario.audiences_only.activations.get(audience=scenario.gold).delete()


def move_schedule(scenario):
    activation = scenario.audiences_only.activations.get(audience=scenario.gold)
    activation.start_date = scenario.today(5)
    activation.save()


def disable_destination(scenario):
    scenario.audiences_only.enabled = False
    scenario.audiences_only.save()


def inactivate_audience(scenario):
    scenario.gold.status = Audience.Status.INACTIVE
    scenario.gold.save()


def expire_audience(scenario):
    from django.utils import timezone

    scenario.gold.expires_at = timezone.now()
    scenario.gold.save()


def add_mapping(scenario):
    MappingFactory(destination=scenario.with_attributes, source=scenario.points, target="points")


def personalization_alias_segments(scenario):
    entries = {entry["alias"]: entry for entry in scenario.payload(scenario.lookup(headers=scenario.headers))}
    return entries.get("personalizationAlias", {}).get("segments")


CHANGES = {
    "a new activation": (add_activation, lambda s: segment_ids(s) == {str(s.gold.pk), str(s.germans.pk)}),
    "a removed activation": (remove_activation, lambda s: segment_ids(s) == set()),
    "a schedule change": (move_schedule, lambda s: segment_ids(s) == set()),
    "a disabled destination": (disable_destination, lambda s: personalization_alias_segments(s) is None),
    "an inactivated audience": (inactivate_audience, lambda s: segment_ids(s) == set()),
    "an expired audience": (expire_audience, lambda s: segment_ids(s) == set()),
    "a new mapping": (
        add_mapping,
        lambda s: s.entry(s.lookup(headers=s.headers), "adServerAlias")["attributes"]["points"] == {"value": 1200},
    ),
}


@pytest.mark.parametrize("change_kind", list(CHANGES))
def test_a_configuration_change_leaves_profile_entries_in_place_and_shows_on_the_next_lookup(
    redis_store, scenario, change_kind, django_capture_on_commit_callbacks
):
    make_change, next_lookup_is_correct = CHANGES[change_kind]
    scenario.headers = scenario.auth_headers()
    scenario.lookup(headers=scenario.headers)
    facts, version = facts_entry(redis_store, scenario), config_version(redis_store, scenario)
    assert facts is not None

    with django_capture_on_commit_callbacks(execute=True):
        make_change(scenario)

    assert config_version(redis_store, scenario) not in (None, version), "the config entry was rewritten"
    assert facts_entry(redis_store, scenario) == facts, "the profile entry is untouched"
    assert next_lookup_is_correct(scenario)


def rename_audience(scenario):
    scenario.gold.name = "Gold members (loyalty)"
    scenario.gold.description = "Members with gold status."
    scenario.gold.save()


def describe_field(scenario):
    scenario.country.description = "Where the member lives."
    scenario.country.save()


def rename_destination(scenario):
    scenario.audiences_only.name = "Website personalization"
    scenario.audiences_only.save()


@pytest.mark.parametrize("edit", [rename_audience, describe_field, rename_destination], ids=lambda edit: edit.__name__)
def test_an_edit_no_answer_depends_on_invalidates_nothing(
    mirrored_store, scenario, edit, django_capture_on_commit_callbacks, django_assert_num_queries
):
    scenario.lookup()
    before = scenario.payload(scenario.lookup())
    version = config_version(mirrored_store, scenario)
    copies = dict(mirrored_store._mirror.values)

    with django_capture_on_commit_callbacks(execute=True):
        edit(scenario)

    assert config_version(mirrored_store, scenario) == version
    assert mirrored_store._mirror.values == copies, "no process dropped a copy"
    with django_assert_num_queries(0):
        assert scenario.payload(scenario.lookup()) == before


def test_a_bulk_change_too_large_to_name_its_profiles_starts_a_new_profile_generation(
    redis_store, scenario, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from personalization import changes
    from personalization.audiences.models import AudienceMembership

    assert str(scenario.gold.pk) in segment_ids(scenario)

    with django_capture_on_commit_callbacks(execute=True):
        AudienceMembership.objects.filter(audience=scenario.gold).update(
            status=AudienceMembership.Status.EXITED, exited_at=timezone.now()
        )
        changes.announce_configuration_changed(scenario.sandbox.pk)

    assert segment_ids(scenario) == set()


def test_a_new_audience_on_another_datastream_leaves_this_ones_config_alone(
    redis_store, scenario, django_capture_on_commit_callbacks
):
    from tests.factories import DatastreamFactory, DestinationFactory

    scenario.lookup()
    version = config_version(redis_store, scenario)

    with django_capture_on_commit_callbacks(execute=True):
        other = DestinationFactory(datastream=DatastreamFactory(sandbox=scenario.sandbox), alias="elsewhere")
        ActivationFactory(destination=other, audience=AudienceFactory(sandbox=scenario.sandbox))

    assert config_version(redis_store, scenario) == version
