"""The CSV import through the management API: a new member list for a custom upload audience."""

import pytest

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.constants import IMPORT_AUDIENCE, MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.audiences.models import AudienceMembership
from tests.factories import AudienceFactory, IdentityNamespaceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = ["%038d" % n for n in range(1, 5)]


def _csv(*ecids, header="ecid,tier"):
    return SimpleUploadedFile(
        "members.csv", ("%s\n" % header + "".join("%s,gold\n" % ecid for ecid in ecids)).encode(), "text/csv"
    )


def _url(audience):
    return reverse("api:audience-imports", args=[audience.pk])


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def importer(client, user, sandbox, grant):
    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(user)
    return client


@pytest.fixture
def audience(sandbox, importer):
    """A custom upload audience with four members, imported through the API."""
    IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    audience = AudienceFactory(sandbox=sandbox, origin="custom_upload", status="draft")
    response = importer.post(_url(audience), {"file": _csv(*MEMBERS), "namespace": "ECID", "identity_column": "ecid"})
    assert response.status_code == 202, response.content
    return audience


def _current_members(audience):
    return AudienceMembership.objects.filter(audience=audience).exclude(status="exited").count()


def test_a_file_posted_to_an_audience_becomes_its_member_list(importer, audience):
    listed = importer.get(_url(audience)).json()

    assert listed["count"] == 1
    assert listed["results"][0] | {"status": "succeeded", "rows_valid": 4, "namespace": "ECID"} == listed["results"][0]
    assert _current_members(audience) == 4


def test_a_file_that_makes_most_members_exit_stops_unless_the_flag_is_sent(importer, audience):
    refused = importer.post(_url(audience), {"file": _csv(MEMBERS[0]), "namespace": "ECID", "identity_column": "ecid"})
    stopped = importer.get(_url(audience)).json()["results"][0]

    assert refused.status_code == 202
    assert (stopped["status"], stopped["exits_refused"]) == ("failed", 3)
    assert _current_members(audience) == 4

    confirmed = importer.post(
        _url(audience),
        {"file": _csv(MEMBERS[0]), "namespace": "ECID", "identity_column": "ecid", "confirm_exits": "true"},
    )

    assert confirmed.status_code == 202
    assert importer.get(_url(audience)).json()["results"][0]["status"] == "succeeded"
    assert _current_members(audience) == 1


@pytest.mark.parametrize(
    "body, field, message",
    [
        (
            {"file": SimpleUploadedFile("members.txt", b"ecid\n1\n"), "namespace": "ECID", "identity_column": "ecid"},
            "file",
            'Only CSV files can be imported; "members.txt" does not end in .csv.',
        ),
        (
            {"file": SimpleUploadedFile("members.csv", b"ecid,tier\n"), "namespace": "ECID", "identity_column": "ecid"},
            "file",
            "The file has no data rows under its header; importing it would name no member. Add one row per member "
            "of the audience.",
        ),
        (
            {"file": _csv(MEMBERS[0]), "namespace": "ecid", "identity_column": "ecid"},
            "namespace",
            "No identity namespace has the code ecid in the sandbox alpha; codes are case-sensitive. Known: ECID.",
        ),
        (
            {"file": _csv(MEMBERS[0]), "namespace": "ECID", "identity_column": "email"},
            "identity_column",
            "The file has no column email; its columns are ecid, tier.",
        ),
        (
            {"file": _csv(MEMBERS[0]), "namespace": "ECID", "identity_column": "ecid", "expiration_days": "91"},
            "expiration_days",
            "Ensure this value is less than or equal to 90.",
        ),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field_and_starts_nothing(importer, audience, body, field, message):
    response = importer.post(_url(audience), body)

    assert response.status_code == 400
    assert response.json()[field] == [message]
    assert audience.imports.count() == 1


def test_a_segmentation_audience_takes_no_file(importer, sandbox):
    IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    segmentation = AudienceFactory(sandbox=sandbox)

    response = importer.post(
        _url(segmentation), {"file": _csv(MEMBERS[0]), "namespace": "ECID", "identity_column": "ecid"}
    )

    assert response.status_code == 400
    assert "only custom upload audiences take CSV files" in response.json()["non_field_errors"][0]


def test_importing_needs_the_import_permission(client, sandbox, grant, audience):
    viewer = UserFactory(username="viewer")
    grant(viewer, sandbox, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(viewer)

    listed = client.get(_url(audience))
    refused = client.post(_url(audience), {"file": _csv(MEMBERS[0]), "namespace": "ECID", "identity_column": "ecid"})

    assert listed.status_code == 200
    assert refused.status_code == 403
    assert audience.imports.count() == 1


def test_an_audience_of_another_sandbox_is_not_found(importer, other_sandbox):
    foreign = AudienceFactory(sandbox=other_sandbox, origin="custom_upload")

    assert importer.get(_url(foreign)).status_code == 404
    assert importer.post(_url(foreign), {"file": _csv(MEMBERS[0])}).status_code == 404


def test_the_import_list_needs_only_view_segments(client, sandbox, grant, audience):
    reader = UserFactory(username="reader")
    grant(reader, sandbox, VIEW_SEGMENTS)
    client.force_login(reader)

    assert client.get(_url(audience)).json()["count"] == 1
    assert client.post(_url(audience), {"file": _csv(MEMBERS[0])}).status_code == 403
