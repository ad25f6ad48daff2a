"""The alert rules on dataflow runs: what breaches, once per rule and run, and what resolves an alert."""

import datetime

import pytest

from django.utils import timezone

from personalization.alerts.evaluation import alert_rules_evaluate_recent, alert_rules_evaluate_run
from personalization.alerts.models import AlertEvent
from tests.factories import AlertSubscriptionFactory, DataflowRunFactory, DestinationFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def finished_run(destination, *, received=100, skipped=0, status="success", minutes=10, **fields):
    return DataflowRunFactory(
        destination=destination,
        kind=fields.pop("kind", "batch"),
        started_at=fields.pop("started_at", NOW - datetime.timedelta(minutes=minutes)),
        finished_at=fields.pop("finished_at", NOW),
        status=status,
        profiles_received=received,
        profiles_skipped=skipped,
        profiles_activated=received - skipped,
        **fields,
    )


@pytest.fixture
def destination(sandbox):
    return DestinationFactory(sandbox=sandbox, name="Web")


def alert_types(events):
    return sorted(event.alert_type for event in events)


def test_a_run_skipping_more_than_one_percent_breaches_the_skipped_rate_rule(destination):
    run = finished_run(destination, received=1000, skipped=20)

    [event] = alert_rules_evaluate_run(run_id=run.pk, now=NOW)

    assert event.alert_type == "activation_skipped_rate"
    assert (event.observed_value, event.threshold) == (2.0, 1.0)
    assert "20 of 1,000 profiles (2.0%)" in event.message and "Web" in event.message


def test_a_run_at_the_threshold_breaches_nothing(destination):
    run = finished_run(destination, received=1000, skipped=10)

    assert alert_rules_evaluate_run(run_id=run.pk, now=NOW) == []


def test_a_subscribers_lower_threshold_is_the_rules_threshold(destination):
    AlertSubscriptionFactory(destination=destination, alert_type="activation_skipped_rate", threshold=0.5)
    run = finished_run(destination, received=1000, skipped=7)

    [event] = alert_rules_evaluate_run(run_id=run.pk, now=NOW)

    assert event.threshold == 0.5


def test_a_failed_run_breaches_the_failure_rule_with_its_errors(destination):
    run = finished_run(destination, received=0, status="failed", errors=["The batch evaluation failed: boom"])

    [event] = alert_rules_evaluate_run(run_id=run.pk, now=NOW)

    assert event.alert_type == "run_failure" and "boom" in event.message


def test_a_run_still_running_past_the_delay_breaches_the_delay_rule(destination, settings):
    settings.ALERT_RUN_DELAY_MINUTES = 150
    late = DataflowRunFactory(destination=destination, kind="batch", started_at=NOW - datetime.timedelta(minutes=151))
    on_time = DataflowRunFactory(
        destination=destination, kind="batch", started_at=NOW - datetime.timedelta(minutes=149)
    )

    assert alert_types(alert_rules_evaluate_run(run_id=late.pk, now=NOW)) == ["run_delay"]
    assert alert_rules_evaluate_run(run_id=on_time.pk, now=NOW) == []


def test_a_streaming_window_is_late_only_the_delay_after_its_window_ends(destination, settings):
    settings.ALERT_RUN_DELAY_MINUTES = 150
    window_end = NOW - datetime.timedelta(minutes=100)
    window = DataflowRunFactory(
        destination=destination,
        kind="streaming",
        started_at=window_end - datetime.timedelta(minutes=60),
        window_end=window_end,
    )

    assert alert_rules_evaluate_run(run_id=window.pk, now=NOW) == []
    assert alert_types(
        alert_rules_evaluate_run(run_id=window.pk, now=window_end + datetime.timedelta(minutes=151))
    ) == ["run_delay"]


def test_evaluating_a_run_twice_creates_no_second_event(destination):
    run = finished_run(destination, received=100, skipped=50)

    first = alert_rules_evaluate_run(run_id=run.pk, now=NOW)
    second = alert_rules_evaluate_run(run_id=run.pk, now=NOW)

    assert len(first) == 1 and second == []
    assert AlertEvent.objects.filter(run=run).count() == 1


def test_the_next_healthy_run_resolves_the_alert(destination):
    breached = finished_run(destination, received=100, skipped=50, started_at=NOW - datetime.timedelta(hours=2))
    [event] = alert_rules_evaluate_run(run_id=breached.pk, now=NOW)
    still_bad = finished_run(destination, received=100, skipped=40, started_at=NOW - datetime.timedelta(hours=1))
    alert_rules_evaluate_run(run_id=still_bad.pk, now=NOW)
    event.refresh_from_db()
    assert event.resolved_at is None

    healthy = finished_run(destination, received=100, skipped=0)
    alert_rules_evaluate_run(run_id=healthy.pk, now=NOW)

    assert not AlertEvent.objects.filter(destination=destination, resolved_at__isnull=True).exists()
    event.refresh_from_db()
    assert event.resolved_at == NOW


def test_the_periodic_evaluation_covers_recent_and_overdue_runs(destination, settings):
    settings.ALERT_RUN_DELAY_MINUTES = 150
    finished_run(destination, received=100, skipped=50)
    DataflowRunFactory(destination=destination, kind="batch", started_at=NOW - datetime.timedelta(hours=3))
    long_ago = NOW - datetime.timedelta(days=3)
    finished_run(destination, received=100, skipped=50, started_at=long_ago, finished_at=long_ago)

    assert alert_rules_evaluate_recent(now=NOW) == 2
    assert alert_rules_evaluate_recent(now=NOW) == 0
