"""The pages about dataflow runs: a destination's runs tab with its chart, the sandbox's runs, one run."""

import datetime

import pytest

from django.utils import timezone

from accounts import constants as perms
from tests.factories import DataflowRunFactory, DestinationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(sandbox):
    return DestinationFactory(sandbox=sandbox, name="Web")


@pytest.fixture
def viewer_client(client, grant, sandbox):
    viewer = UserFactory(username="viewer")
    grant(viewer, sandbox, perms.VIEW_DESTINATIONS)
    client.force_login(viewer)
    return client


def a_run(destination, hours_ago, received, skipped, status="success", **fields):
    started = timezone.now() - datetime.timedelta(hours=hours_ago)
    return DataflowRunFactory(
        destination=destination,
        kind="batch",
        status=status,
        started_at=started,
        finished_at=started + datetime.timedelta(seconds=30),
        profiles_received=received,
        profiles_skipped=skipped,
        profiles_activated=received - skipped,
        **fields,
    )


def test_the_runs_tab_charts_activated_and_skipped_per_run_and_lists_each_run(viewer_client, web):
    a_run(web, 48, 1000, 10)
    latest = a_run(web, 24, 2000, 40)

    page = viewer_client.get("/runs/destination/%s/" % web.pk).content.decode()

    assert 'aria-label="Activated and skipped profiles in the last 2 runs: 50 skipped of 3,000."' in page
    assert page.count('class="chart-activated"') == 2 and page.count('class="chart-skipped"') == 2
    assert "1,960 activated, 40 skipped of 2,000 received" in page
    assert latest.get_absolute_url() in page


def test_the_run_page_shows_counts_reasons_and_errors(viewer_client, web):
    run = a_run(web, 1, 100, 3, skip_reasons={"no_identity": 2, "missing_attribute": 1}, errors=["late data"])

    page = viewer_client.get(run.get_absolute_url()).content.decode()

    assert "No identity a lookup could find the profile by" in page and "A mapped attribute is missing" in page
    assert "3 (3 % of received)" in page and "late data" in page


def test_the_sandbox_runs_list_filters_by_status(viewer_client, web):
    a_run(web, 2, 10, 0)
    failed = a_run(web, 1, 0, 0, status="failed")

    page = viewer_client.get("/runs/?status=failed")

    assert list(page.context["object_list"]) == [failed]


def test_a_run_of_another_sandbox_is_404(viewer_client, other_sandbox):
    elsewhere = a_run(DestinationFactory(sandbox=other_sandbox), 1, 10, 0)

    assert viewer_client.get(elsewhere.get_absolute_url()).status_code == 404
    assert viewer_client.get("/runs/destination/%s/" % elsewhere.destination_id).status_code == 404
