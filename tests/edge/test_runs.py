"""Dataflow runs: what a destination received, activated and skipped from each piece of activation work."""

import datetime

import pytest

from django.utils import timezone

from personalization.audiences.evaluation import audience_evaluate, profile_streaming_evaluate
from personalization.audiences.models import AudienceEvaluation, StreamedChange
from personalization.audiences.tasks import _fail
from personalization.destinations.models import Destination
from personalization.edge.models import DataflowRun
from personalization.edge.runs import dataflow_runs_close_windows, dataflow_runs_count_streamed, dataflow_runs_record
from personalization.governance.models import Policy
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DestinationFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    LabelFactory,
    MappingFactory,
    MarketingActionFactory,
    PolicyFactory,
    ProfileFactory,
    ProfileFieldFactory,
)

pytestmark = pytest.mark.django_db

GOLD = {"field": "loyalty.status", "op": "equals", "value": "gold"}


class Shop:
    """A sandbox with a gold audience activated on an audiences-only and a With Attributes destination."""

    def __init__(self, sandbox, *, evaluation="batch"):
        self.sandbox = sandbox
        self.email = IdentityNamespaceFactory(sandbox=sandbox, code="Email")
        self.status = ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
        self.city = ProfileFieldFactory(sandbox=sandbox, path="home.city")
        self.gold = AudienceFactory(sandbox=sandbox, name="Gold", rule=GOLD, evaluation=evaluation)
        self.segments = DestinationFactory(sandbox=sandbox, name="Segments")
        self.attributes = DestinationFactory(sandbox=sandbox, name="Attributes", kind=Destination.Kind.WITH_ATTRIBUTES)
        ActivationFactory(destination=self.segments, audience=self.gold)
        self.attributes_activation = ActivationFactory(destination=self.attributes, audience=self.gold)
        MappingFactory(destination=self.attributes, source=self.city, target="city")
        self.serial = 0

    def member(self, *, identity=True, city="Berlin"):
        self.serial += 1
        attributes = {"loyalty": {"status": "gold"}, **({"home": {"city": city}} if city else {})}
        profile = ProfileFactory(sandbox=self.sandbox, attributes=attributes)
        if identity:
            IdentityFactory(profile=profile, namespace=self.email, value="p%d@example.com" % self.serial)
        return profile

    def run_of(self, destination, **filters):
        return DataflowRun.objects.get(destination=destination, **filters)


@pytest.fixture
def shop(sandbox):
    return Shop(sandbox)


def test_a_batch_evaluation_is_one_run_per_destination_with_its_profiles_activated(
    shop, django_capture_on_commit_callbacks
):
    for _ in range(3):
        shop.member()

    with django_capture_on_commit_callbacks(execute=True):
        evaluation = audience_evaluate(audience_id=shop.gold.pk)

    for destination in (shop.segments, shop.attributes):
        run = shop.run_of(destination)
        assert (run.kind, run.source, run.status) == ("batch", "evaluation:%s" % evaluation.pk, "success")
        assert (run.profiles_received, run.profiles_activated, run.profiles_skipped) == (3, 3, 0)
        assert run.audience == shop.gold and run.finished_at is not None


def test_profiles_without_an_identity_or_a_mapped_attribute_are_skipped_with_their_reason(
    shop, django_capture_on_commit_callbacks
):
    shop.member()
    shop.member(identity=False)
    shop.member(city=None)

    with django_capture_on_commit_callbacks(execute=True):
        audience_evaluate(audience_id=shop.gold.pk)

    segments = shop.run_of(shop.segments)
    assert (segments.profiles_received, segments.profiles_activated) == (3, 2)
    assert segments.skip_reasons == {"no_identity": 1}
    attributes = shop.run_of(shop.attributes)
    assert (attributes.profiles_received, attributes.profiles_activated, attributes.profiles_skipped) == (3, 1, 2)
    assert attributes.skip_reasons == {"no_identity": 1, "missing_attribute": 1}
    assert attributes.skipped_percent == pytest.approx(200 / 3)


def test_an_evaluation_that_moves_nobody_is_a_run_that_received_nothing(shop, django_capture_on_commit_callbacks):
    shop.member()
    with django_capture_on_commit_callbacks(execute=True):
        audience_evaluate(audience_id=shop.gold.pk)
    with django_capture_on_commit_callbacks(execute=True):
        audience_evaluate(audience_id=shop.gold.pk)

    first, second = DataflowRun.objects.filter(destination=shop.segments).order_by("started_at")
    assert (first.profiles_received, second.profiles_received) == (1, 0)


def test_the_same_work_recorded_twice_makes_no_second_run(shop):
    shop.member()
    started = timezone.now() - datetime.timedelta(minutes=1)
    audience_evaluate(audience_id=shop.gold.pk)
    work = dict(audience_id=shop.gold.pk, kind="batch", source="evaluation:x", started_at=started)

    dataflow_runs_record(**work, finished_at=timezone.now())
    again = dataflow_runs_record(**work, finished_at=timezone.now())

    assert again == []
    assert DataflowRun.objects.filter(source="evaluation:x").count() == 2  # one per destination


def test_a_failed_evaluation_is_a_failed_run_naming_the_error(shop, django_capture_on_commit_callbacks):
    evaluation = AudienceEvaluation.objects.create(
        audience=shop.gold, status=AudienceEvaluation.Status.RUNNING, started_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        _fail(AudienceEvaluation, evaluation.pk, RuntimeError("the database went away"))

    run = shop.run_of(shop.segments)
    assert run.status == "failed"
    assert "the database went away" in run.errors[0]


def test_a_disabled_destination_gets_no_run(shop, django_capture_on_commit_callbacks):
    shop.member()
    Destination.objects.filter(pk=shop.attributes.pk).update(enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        audience_evaluate(audience_id=shop.gold.pk)

    assert list(DataflowRun.objects.values_list("destination", flat=True)) == [shop.segments.pk]


def test_an_ended_activation_skips_every_profile_as_expired(shop, django_capture_on_commit_callbacks):
    shop.member()
    type(shop.attributes_activation).objects.filter(pk=shop.attributes_activation.pk).update(
        end_date=timezone.now().date() - datetime.timedelta(days=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        audience_evaluate(audience_id=shop.gold.pk)

    assert shop.run_of(shop.attributes).skip_reasons == {"audience_expired": 1}
    assert shop.run_of(shop.segments).skip_reasons == {}


def test_a_policy_made_after_the_activation_skips_what_it_forbids(shop, django_capture_on_commit_callbacks):
    shop.member()
    onsite = MarketingActionFactory(sandbox=shop.sandbox, name="Onsite Personalization")
    shop.attributes.marketing_actions.add(onsite)
    LabelFactory(sandbox=shop.sandbox, code="C9").fields.add(shop.city)
    PolicyFactory(marketing_action=onsite, deny={"label": "C9"}, status=Policy.Status.ENABLED)

    with django_capture_on_commit_callbacks(execute=True):
        audience_evaluate(audience_id=shop.gold.pk)

    assert shop.run_of(shop.attributes).skip_reasons == {"policy_violation": 1}
    assert shop.run_of(shop.segments).skip_reasons == {}


def test_streaming_changes_accumulate_in_the_destinations_window_run(sandbox, settings):
    settings.DATAFLOW_RUN_WINDOW_MINUTES = 60
    shop = Shop(sandbox, evaluation="streaming")
    members = [shop.member(), shop.member(identity=False)]
    for member in members:
        profile_streaming_evaluate(profile=member)
    assert StreamedChange.objects.count() == 2

    assert dataflow_runs_count_streamed() == 2

    run = shop.run_of(shop.segments, kind="streaming")
    assert (run.status, run.profiles_received, run.profiles_activated, run.skip_reasons) == (
        "running",
        2,
        1,
        {"no_identity": 1},
    )
    assert run.window_end - run.started_at == datetime.timedelta(minutes=60)
    assert not StreamedChange.objects.exists()


def test_a_window_run_finishes_when_its_window_has_ended(sandbox):
    shop = Shop(sandbox, evaluation="streaming")
    profile_streaming_evaluate(profile=shop.member())
    dataflow_runs_count_streamed()
    run = shop.run_of(shop.segments, kind="streaming")

    assert dataflow_runs_close_windows(now=run.window_end - datetime.timedelta(seconds=1)) == []
    assert dataflow_runs_close_windows(now=run.window_end) != []

    run.refresh_from_db()
    assert (run.status, run.finished_at) == ("success", run.window_end)


def test_a_profile_moving_again_in_the_same_window_adds_to_the_same_run(sandbox):
    shop = Shop(sandbox, evaluation="streaming")
    member = shop.member()
    profile_streaming_evaluate(profile=member)
    member.attributes = {"loyalty": {"status": "silver"}}
    member.save()
    profile_streaming_evaluate(profile=member)

    dataflow_runs_count_streamed()

    assert shop.run_of(shop.segments, kind="streaming").profiles_received == 2
