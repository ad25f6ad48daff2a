"""In the embedded mode (no broker: tasks run in-process), a breach still reaches the bell and the console email."""

import pytest

from accounts import constants as perms
from personalization.alerts.models import AlertEvent, Notification
from personalization.audiences.evaluation import audience_evaluate
from tests.factories import (
    ActivationFactory,
    AlertSubscriptionFactory,
    AudienceFactory,
    DestinationFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    ProfileFactory,
    ProfileFieldFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_a_run_skipping_two_percent_reaches_the_bell_and_prints_the_email(
    sandbox, grant, settings, capsys, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    email = IdentityNamespaceFactory(sandbox=sandbox, code="Email")
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
    gold = AudienceFactory(sandbox=sandbox, rule={"field": "loyalty.status", "op": "equals", "value": "gold"})
    destination = DestinationFactory(sandbox=sandbox, name="Web")
    ActivationFactory(destination=destination, audience=gold)
    for number in range(50):
        profile = ProfileFactory(sandbox=sandbox, attributes={"loyalty": {"status": "gold"}})
        if number:
            IdentityFactory(profile=profile, namespace=email, value="p%d@example.com" % number)
    marketer = UserFactory(username="marketer", email="marketer@shop.test")
    grant(marketer, sandbox, perms.VIEW_DESTINATIONS, perms.VIEW_ALERTS)
    AlertSubscriptionFactory(user=marketer, destination=destination, alert_type="activation_skipped_rate", email=True)

    with django_capture_on_commit_callbacks(execute=True):
        audience_evaluate(audience_id=gold.pk)

    event = AlertEvent.objects.get()
    assert event.alert_type == "activation_skipped_rate" and event.delivered_at is not None
    assert Notification.objects.get().user == marketer
    printed = capsys.readouterr().out
    assert "To: marketer@shop.test" in printed and "1 of 50 profiles (2.0%) were skipped" in printed
