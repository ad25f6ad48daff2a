"""Audience pages: the membership chart, the import history, and deleting or inactivating while activated."""

import datetime

import pytest

from django.urls import reverse
from django.utils import timezone

from accounts.constants import MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.audiences.charts import membership_chart_svg, membership_history
from personalization.audiences.models import Audience, AudienceMembership
from tests.factories import ActivationFactory, AudienceFactory, DestinationFactory, MembershipFactory, ProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, user, sandbox, grant):
    grant(user, sandbox, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(user)
    return client


def _member(audience, qualified, exited=None):
    return MembershipFactory(
        audience=audience,
        profile=ProfileFactory(sandbox=audience.sandbox),
        qualified_at=qualified,
        status=AudienceMembership.Status.EXITED if exited else AudienceMembership.Status.REALIZED,
        exited_at=exited,
    )


def test_the_history_counts_realized_and_exited_per_day_and_the_size_at_each_days_end(sandbox):
    audience = AudienceFactory(sandbox=sandbox)
    today = timezone.localdate()
    at = lambda days_ago: timezone.now() - datetime.timedelta(days=days_ago)  # noqa: E731
    _member(audience, at(40))  # before the window: part of the starting size
    _member(audience, at(40), exited=at(2))
    _member(audience, at(3))
    _member(audience, at(3), exited=at(1))

    history = membership_history(audience, days=5, today=today)

    assert [(p["realized"], p["exited"], p["size"]) for p in history] == [
        (0, 0, 2),
        (2, 0, 4),
        (0, 1, 3),
        (0, 1, 2),
        (0, 0, 2),
    ]


def test_the_chart_is_an_inline_svg_with_a_label_and_no_script(sandbox):
    audience = AudienceFactory(sandbox=sandbox)
    _member(audience, timezone.now())

    svg = str(membership_chart_svg(membership_history(audience, days=7)))

    assert svg.startswith('<svg class="membership-chart"') and 'role="img"' in svg
    assert 'aria-label="Members over the last 7 days: 1 now."' in svg
    assert "<script" not in svg and 'class="chart-realized"' in svg


def test_the_detail_page_shows_the_chart_and_the_import_history_of_custom_uploads(manager_client, sandbox):
    audience = AudienceFactory(sandbox=sandbox, origin=Audience.Origin.CUSTOM_UPLOAD)

    content = manager_client.get(audience.get_absolute_url()).content.decode()

    assert "membership-chart" in content and "Import history" in content
    assert "No file has been imported into this audience." in content


def test_deleting_an_activated_audience_is_refused_naming_the_destinations(manager_client, sandbox):
    audience = AudienceFactory(sandbox=sandbox, name="Gold")
    for name in ("Web hero", "App banner"):
        ActivationFactory(audience=audience, destination=DestinationFactory(datastream__sandbox=sandbox, name=name))

    response = manager_client.post(reverse("audiences:audience_delete", args=[audience.pk]))

    assert response.status_code == 200
    assert (
        "Gold is activated to App banner, Web hero; remove it from those destinations before you delete it."
        in response.content.decode()
    )
    assert Audience.objects.filter(pk=audience.pk).exists()


def test_deleting_an_audience_that_is_not_activated_works(manager_client, sandbox):
    audience = AudienceFactory(sandbox=sandbox)

    response = manager_client.post(reverse("audiences:audience_delete", args=[audience.pk]))

    assert response.status_code == 302 and not Audience.objects.exists()


def test_inactivating_an_activated_audience_is_refused_with_a_message(manager_client, sandbox):
    audience = AudienceFactory(sandbox=sandbox, name="Gold", status=Audience.Status.PUBLISHED)
    ActivationFactory(audience=audience, destination=DestinationFactory(datastream__sandbox=sandbox, name="Web hero"))

    response = manager_client.post(reverse("audiences:audience_inactivate", args=[audience.pk]), follow=True)

    assert (
        "Gold is activated to Web hero; remove it from those destinations before you inactivate it."
        in response.content.decode()
    )
    assert Audience.objects.get().status == Audience.Status.PUBLISHED


def test_inactivating_an_audience_that_is_not_activated_works(manager_client, sandbox):
    audience = AudienceFactory(sandbox=sandbox, status=Audience.Status.PUBLISHED)

    manager_client.post(reverse("audiences:audience_inactivate", args=[audience.pk]))

    assert Audience.objects.get().status == Audience.Status.INACTIVE


def test_viewers_cannot_delete_or_inactivate(client, user, sandbox, grant):
    grant(user, sandbox, VIEW_SEGMENTS)
    client.force_login(user)
    audience = AudienceFactory(sandbox=sandbox)

    assert client.post(reverse("audiences:audience_delete", args=[audience.pk])).status_code == 403
    assert client.post(reverse("audiences:audience_inactivate", args=[audience.pk])).status_code == 403
    assert "Inactivate" not in client.get(audience.get_absolute_url()).content.decode()


def test_audiences_of_another_sandbox_are_not_found(manager_client, other_sandbox):
    audience = AudienceFactory(sandbox=other_sandbox)

    assert manager_client.post(reverse("audiences:audience_delete", args=[audience.pk])).status_code == 404
    assert manager_client.post(reverse("audiences:audience_inactivate", args=[audience.pk])).status_code == 404
