"""The bell and the notifications page: one's own alerts, from sandboxes where one may view alerts."""

import pytest

from accounts import constants as perms
from personalization.alerts.models import Notification
from tests.factories import AlertEventFactory, DataflowRunFactory, DestinationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(grant, sandbox):
    person = UserFactory(username="reader")
    grant(person, sandbox, perms.VIEW_DESTINATIONS, perms.VIEW_ALERTS)
    return person


def notify(user, sandbox, message="2 of 100 profiles (2.0%) were skipped activating to Web."):
    run = DataflowRunFactory(destination=DestinationFactory(sandbox=sandbox, name="Web"))
    return Notification.objects.create(user=user, event=AlertEventFactory(run=run, message=message))


def test_without_view_alerts_the_notifications_page_is_403(client, grant, sandbox):
    stranger = UserFactory(username="stranger")
    grant(stranger, sandbox, perms.VIEW_DESTINATIONS)
    client.force_login(stranger)

    assert client.get("/alerts/notifications/").status_code == 403


def test_the_bell_counts_the_users_unread_alerts_and_links_to_the_run(client, reader, sandbox):
    mine = notify(reader, sandbox)
    notify(UserFactory(username="someone-else"), sandbox, message="Not yours")
    client.force_login(reader)

    page = client.get("/alerts/notifications/").content.decode()

    assert 'aria-label="Notifications, 1 unread"' in page
    assert mine.event.message in page and "Not yours" not in page
    assert "/runs/%s/" % mine.event.run_id in page


def test_alerts_from_a_sandbox_where_the_user_lost_view_alerts_are_not_shown(client, reader, other_sandbox):
    notify(reader, other_sandbox, message="From elsewhere")
    client.force_login(reader)

    page = client.get("/alerts/notifications/").content.decode()

    assert "From elsewhere" not in page and 'aria-label="Notifications, 0 unread"' in page


def test_mark_read_clears_one_notification_and_mark_all_the_rest(client, reader, sandbox):
    first, second = notify(reader, sandbox), notify(reader, sandbox)
    client.force_login(reader)

    client.post("/alerts/notifications/read/", {"notification": first.pk, "next": "/alerts/notifications/"})
    assert list(Notification.objects.filter(read_at__isnull=True).values_list("pk", flat=True)) == [second.pk]
    response = client.post("/alerts/notifications/read/", {"next": "https://evil.test/"})

    assert response.status_code == 302 and response["Location"] == "/alerts/notifications/"
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_mark_read_never_touches_another_users_notifications(client, reader, sandbox):
    theirs = notify(UserFactory(username="someone-else"), sandbox)
    client.force_login(reader)

    client.post("/alerts/notifications/read/", {"notification": theirs.pk})

    theirs.refresh_from_db()
    assert theirs.read_at is None
