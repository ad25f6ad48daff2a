"""Helpers shared by the activation wizard tests: a sandbox to activate in and the step payloads."""

import datetime

from django.urls import reverse
from django.utils import timezone

from accounts.constants import (
    ACTIVATE_DESTINATIONS,
    VIEW_DESTINATIONS,
    VIEW_PROFILES,
    VIEW_SEGMENTS,
)
from personalization.audiences.models import Audience
from personalization.destinations.models import Destination
from tests.factories import (
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    ProfileFieldFactory,
)
from tests.utils.wizard import open_wizard

WITH_ATTRIBUTES = Destination.Kind.WITH_ATTRIBUTES
PLAIN = Destination.Kind.CUSTOM_PERSONALIZATION
ACTIVATOR = (VIEW_DESTINATIONS, VIEW_PROFILES, VIEW_SEGMENTS, ACTIVATE_DESTINATIONS)


def today():
    return timezone.localdate()


class Setup:
    """A sandbox with one With Attributes destination, three published audiences and two scalar fields."""

    def __init__(self, sandbox, grant, user, client):
        self.sandbox, self.grant, self.user, self.client = sandbox, grant, user, client
        self.web = DatastreamFactory(sandbox=sandbox, name="Web")
        self.destination = DestinationFactory(
            datastream=self.web, name="Homepage hero", alias="heroBanner", kind=WITH_ATTRIBUTES
        )
        self.gold = AudienceFactory(sandbox=sandbox, name="Gold members", profile_count=1200)
        self.germans = AudienceFactory(sandbox=sandbox, name="Germans")
        self.upload = AudienceFactory(
            sandbox=sandbox,
            name="Newsletter upload",
            origin=Audience.Origin.CUSTOM_UPLOAD,
            expires_at=timezone.now() + datetime.timedelta(days=10),
        )
        self.tier = ProfileFieldFactory(sandbox=sandbox, path="loyalty.status")
        self.country = ProfileFieldFactory(sandbox=sandbox, path="homeAddress.countryCode")

    def sign_in(self, *codenames):
        self.grant(self.user, self.sandbox, *(codenames or ACTIVATOR))
        self.client.force_login(self.user)

    def open(self, destination=None):
        destination = destination or self.destination
        return open_wizard(self.client, reverse("destinations:destination_activate", args=[destination.pk]))

    def open_from_catalog(self, kind=WITH_ATTRIBUTES):
        return open_wizard(self.client, reverse("destinations:destination_activate_kind", args=[kind]))


def _audiences(*audiences, **extra):
    return {"audiences": [audience.pk for audience in audiences], "origin": "", "q": "", **extra}


def _mappings(*rows, total=None):
    data = {"TOTAL_FORMS": total or max(len(rows), 1), "INITIAL_FORMS": 0}
    for index, (source, target) in enumerate(rows):
        data["%d-source" % index] = source.pk if source else ""
        data["%d-target" % index] = target
    return data


def _dates(*rows, show_new_only=False):
    data = {"show_new_only": "on"} if show_new_only else {}
    for audience, start, end in rows:
        data["start_%s" % audience.pk.hex] = start.isoformat() if start else ""
        data["end_%s" % audience.pk.hex] = end.isoformat() if end else ""
    return data


def _errors(wizard, field):
    return wizard.form.errors.get(field, [])


__all__ = ["ACTIVATOR", "PLAIN", "WITH_ATTRIBUTES", "Setup", "_audiences", "_dates", "_errors", "_mappings", "today"]
