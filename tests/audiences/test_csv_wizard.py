"""The CSV import wizard through the test client: each step's validation, the finish, the import page, permissions."""

import pytest

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.constants import IMPORT_AUDIENCE, MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.audiences.models import Audience, AudienceImport, AudienceMembership
from tests.factories import AudienceFactory, IdentityNamespaceFactory, UserFactory
from tests.utils.wizard import _wizard_post, open_wizard

pytestmark = pytest.mark.django_db

URL = reverse("audiences:audience_import")
ECID_1, ECID_2 = "1" * 38, "2" * 38
GOOD = ("ecid,tier\n%s,gold\n%s,silver\nbad,bronze\n" % (ECID_1, ECID_2)).encode()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def ecid(sandbox):
    return IdentityNamespaceFactory(sandbox=sandbox, code="ECID")


@pytest.fixture
def wizard(client, user, sandbox, grant, ecid):
    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(user)
    return open_wizard(client, URL)


def _file(content=GOOD, name="members.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def _details(ns, **overrides):
    return {
        "name": "CRM gold",
        "description": "From the CRM",
        "identity_column": "ecid",
        "namespace": ns.pk,
        "expiration_days": 30,
        "external_id": "crm_gold",
        **overrides,
    }


def _to_details(wizard, content=GOOD):
    _wizard_post(wizard, "upload", {"file": _file(content)})
    return _wizard_post(wizard, "preview", {})


def test_the_whole_way_creates_the_audience_and_imports_the_file(wizard, ecid, django_capture_on_commit_callbacks):
    assert wizard.steps == ["upload", "preview", "details", "review"]

    response = _wizard_post(wizard, "upload", {"file": _file()})
    assert wizard.step == "preview"
    assert "silver" in wizard.content and "comma separated" in wizard.content
    _wizard_post(wizard, "preview", {})
    assert wizard.step == "details"
    _wizard_post(wizard, "details", _details(ecid))
    assert wizard.step == "review" and "crm_gold" in wizard.content
    with django_capture_on_commit_callbacks(execute=True):
        response = _wizard_post(wizard, "review", {})

    done = AudienceImport.objects.get()
    assert response.status_code == 302 and response["Location"] == done.get_absolute_url()
    assert (done.status, done.rows_valid, done.rows_invalid, done.file_name) == ("succeeded", 2, 1, "members.csv")
    audience = done.audience
    assert (audience.name, audience.external_id, audience.origin, audience.status) == (
        "CRM gold",
        "crm_gold",
        "custom_upload",
        "published",
    )
    assert AudienceMembership.objects.count() == 2
    page = wizard.client.get(done.get_absolute_url())
    assert "Download the error report" in page.content.decode()
    report = wizard.client.get(reverse("audiences:audience_import_errors", args=[done.pk]))
    body = b"".join(report.streaming_content).decode()
    assert body.splitlines()[1].startswith("4,ecid,bad,This is not a valid ECID identity")


# Upload


def test_upload_requires_a_file(wizard):
    _wizard_post(wizard, "upload", {})

    assert wizard.step == "upload" and wizard.form.errors["file"] == ["This field is required."]


def test_upload_refuses_a_file_that_is_not_csv(wizard):
    _wizard_post(wizard, "upload", {"file": _file(name="members.xlsx")})

    assert wizard.form.errors["file"] == ['Only CSV files can be imported; "members.xlsx" does not end in .csv.']


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty."),
        (
            b"ecid,First Name\n",
            'Column 2, "First Name": header names cannot contain spaces or dashes; use e.g. "First_Name".',
        ),
        (b"ecid,a,a\n", 'Column 3, "a": the header names this column twice; rename one.'),
        (
            b"ecid,\xff\n",
            'The file is not UTF-8: the byte at offset 5 cannot be decoded. Save the file as "CSV UTF-8" '
            "(with or without BOM) and upload it again.",
        ),
        (
            (",".join("c%d" % n for n in range(30)) + "\n").encode(),
            "The file has 30 columns; at most 25 are allowed. Remove 5 columns.",
        ),
        (
            b"ecid,tier\n",
            "The file has no data rows under its header; importing it would name no member. Add one row per member "
            "of the audience.",
        ),
        (
            b"ecid,\xef\xbb\xbftier\n%s,gold\n" % ECID_1.encode(),
            'Column 2, "\\ufefftier": the header name contains an invisible or control character, U+FEFF ZERO WIDTH '
            "NO-BREAK SPACE at position 1; retype the name (a byte order mark inside a file often comes from joining "
            "two files).",
        ),
    ],
    ids=["empty", "space", "duplicate", "encoding", "columns", "header only", "bom in a header"],
)
def test_upload_checks_the_header_and_encoding(wizard, content, message):
    _wizard_post(wizard, "upload", {"file": _file(content)})

    assert wizard.step == "upload" and wizard.form.errors["file"] == [message]


def test_upload_refuses_a_file_over_1_gb(wizard, monkeypatch):
    from personalization.audiences.imports import reading

    monkeypatch.setattr(reading, "MAX_FILE_BYTES", 10)
    _wizard_post(wizard, "upload", {"file": _file()})

    assert wizard.form.errors["file"][0].startswith("The file has %d bytes; at most 1 GB" % len(GOOD))


# Details


def test_details_offer_the_files_columns_and_the_sandboxs_namespaces(wizard, ecid, other_sandbox):
    IdentityNamespaceFactory(sandbox=other_sandbox, code="Foreign")
    _to_details(wizard)

    form = wizard.form
    assert [value for value, _label in form.fields["identity_column"].choices] == ["ecid", "tier"]
    assert list(form.fields["namespace"].queryset) == [ecid]
    assert form["expiration_days"].value() == 30


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        (
            {"identity_column": "city"},
            "identity_column",
            "Select a valid choice. city is not one of the available choices.",
        ),
        ({"namespace": ""}, "namespace", "This field is required."),
        ({"expiration_days": 0}, "expiration_days", "Ensure this value is greater than or equal to 1."),
        ({"expiration_days": 91}, "expiration_days", "Ensure this value is less than or equal to 90."),
        (
            {"external_id": "9lives"},
            "external_id",
            "Start with a letter, _ or $, then use only letters, digits, _ or $ (e.g. crm_gold_2024).",
        ),
        (
            {"external_id": "crm-gold"},
            "external_id",
            "Start with a letter, _ or $, then use only letters, digits, _ or $ (e.g. crm_gold_2024).",
        ),
    ],
    ids=["name", "column", "namespace", "days-low", "days-high", "external-digit", "external-dash"],
)
def test_details_validation(wizard, ecid, overrides, field, message):
    _to_details(wizard)

    _wizard_post(wizard, "details", _details(ecid, **overrides))

    assert wizard.step == "details" and wizard.form.errors[field] == [message]


def test_details_accept_an_external_id_with_dollar_and_underscore(wizard, ecid):
    _to_details(wizard)

    _wizard_post(wizard, "details", _details(ecid, external_id="$_crm1"))

    assert wizard.step == "review"


def test_details_refuse_a_taken_name(wizard, ecid, sandbox):
    AudienceFactory(sandbox=sandbox, name="CRM gold")
    _to_details(wizard)

    _wizard_post(wizard, "details", _details(ecid))

    assert wizard.form.errors["name"] == ["An audience with this name already exists in this sandbox."]


def test_back_from_details_keeps_what_was_typed(wizard, ecid):
    _to_details(wizard)
    _wizard_post(wizard, "details", _details(ecid, name="Half typed"), wizard_goto_step="preview")
    assert wizard.step == "preview"

    _wizard_post(wizard, "preview", {})

    assert wizard.form["name"].value() == "Half typed"


def test_the_waiting_upload_is_deleted_once_the_import_has_its_copy(wizard, ecid, settings):
    from pathlib import Path

    _to_details(wizard)
    _wizard_post(wizard, "details", _details(ecid))
    _wizard_post(wizard, "review", {})

    incoming = Path(settings.MEDIA_ROOT) / "audience_imports" / "incoming"
    assert list(incoming.iterdir()) == []
    assert (Path(settings.MEDIA_ROOT) / AudienceImport.objects.get().file_path).read_bytes() == GOOD


# Permissions


@pytest.mark.parametrize(
    "codenames",
    [(VIEW_SEGMENTS, MANAGE_SEGMENTS), (IMPORT_AUDIENCE, VIEW_SEGMENTS), (IMPORT_AUDIENCE, MANAGE_SEGMENTS)],
    ids=["no-import", "no-manage", "no-view"],
)
def test_the_wizard_needs_all_three_permissions(client, user, sandbox, grant, codenames):
    grant(user, sandbox, *codenames)
    client.force_login(user)

    assert client.get(URL).status_code == 403


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get(URL)

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_import_button_shows_only_to_importers(client, user, sandbox, grant):
    grant(user, sandbox, VIEW_SEGMENTS)
    client.force_login(user)
    assert URL not in client.get(reverse("audiences:audience_list")).content.decode()

    grant(user, sandbox, IMPORT_AUDIENCE, MANAGE_SEGMENTS)
    assert URL in client.get(reverse("audiences:audience_list")).content.decode()


def _import_in(sandbox):
    audience = AudienceFactory(sandbox=sandbox, origin=Audience.Origin.CUSTOM_UPLOAD)
    return AudienceImport.objects.create(
        audience=audience,
        namespace=IdentityNamespaceFactory(sandbox=sandbox),
        identity_column="ecid",
        file_name="a.csv",
        file_path="audience_imports/x.csv",
        status=AudienceImport.Status.FAILED,
        error_report_path="audience_imports/x-errors.csv",
    )


@pytest.mark.parametrize("name", ["audience_import_detail", "audience_import_progress", "audience_import_errors"])
def test_imports_of_another_sandbox_are_not_found(client, user, sandbox, other_sandbox, grant, name):
    grant(user, sandbox, VIEW_SEGMENTS)
    client.force_login(user)

    assert client.get(reverse("audiences:" + name, args=[_import_in(other_sandbox).pk])).status_code == 404


def test_import_pages_need_view_segments(client, user, sandbox, grant):
    grant(user, sandbox, IMPORT_AUDIENCE)
    client.force_login(user)

    assert client.get(reverse("audiences:audience_import_detail", args=[_import_in(sandbox).pk])).status_code == 403


def test_the_progress_partial_polls_while_running_and_stops_when_finished(client, user, sandbox, grant):
    grant(user, sandbox, VIEW_SEGMENTS)
    client.force_login(user)
    audience_import = _import_in(sandbox)
    AudienceImport.objects.filter(pk=audience_import.pk).update(status="running", progress=0.4)
    url = reverse("audiences:audience_import_progress", args=[audience_import.pk])

    running = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in running and 'value="40"' in running

    AudienceImport.objects.filter(pk=audience_import.pk).update(status="failed", error="Broken file.")
    finished = client.get(url).content.decode()
    assert "hx-trigger" not in finished and "Broken file." in finished


#
# A new file for an existing audience
#


@pytest.fixture
def uploaded(sandbox, ecid, grant, django_capture_on_commit_callbacks):
    """A custom upload audience whose first file, imported by a colleague, made four profiles members."""
    from django.core.files.base import ContentFile

    from personalization.audiences.imports.services import audience_import_create

    colleague = UserFactory(username="colleague")
    grant(colleague, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    rows = "".join("%s,gold\n" % (str(n) * 38) for n in range(1, 5))
    with django_capture_on_commit_callbacks(execute=True):
        first = audience_import_create(
            user=colleague,
            sandbox=sandbox,
            name="CRM gold",
            upload=ContentFile(("ecid,tier\n" + rows).encode(), name="first.csv"),
            namespace=ecid,
            identity_column="ecid",
        )
    return first.audience


@pytest.fixture
def into(client, user, sandbox, grant, uploaded):
    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(user)
    return open_wizard(client, reverse("audiences:audience_import_into", args=[uploaded.pk]))


def _to_review(wizard, ns, content):
    _wizard_post(wizard, "upload", {"file": _file(content)})
    _wizard_post(wizard, "preview", {})
    _wizard_post(wizard, "details", {"identity_column": "ecid", "namespace": ns.pk, "expiration_days": 30})


def test_the_audience_page_offers_a_new_file_to_importers(client, user, sandbox, grant, uploaded):
    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(user)

    page = client.get(uploaded.get_absolute_url()).content.decode()

    assert reverse("audiences:audience_import_into", args=[uploaded.pk]) in page and "Import a new file" in page


def test_a_new_file_keeps_the_audiences_name_and_asks_only_for_the_identity(into, ecid, uploaded):
    _wizard_post(into, "upload", {"file": _file(b"ecid,tier\n%s,silver\n" % ECID_1.encode())})
    _wizard_post(into, "preview", {})

    assert into.step == "details"
    assert set(into.form.fields) == {"identity_column", "namespace", "expiration_days"}
    assert into.form.initial == {"namespace": ecid.pk, "identity_column": "ecid"}


def test_the_review_says_how_many_members_exit(into, ecid, django_capture_on_commit_callbacks):
    _to_review(into, ecid, b"ecid,tier\n%s,silver\n%s,gold\n%s,gold\n" % (ECID_1.encode(), ECID_2.encode(), b"9" * 38))

    assert into.step == "review"
    assert "Of its 4 members now, 2 would exit." in into.content
    with django_capture_on_commit_callbacks(execute=True):
        response = _wizard_post(into, "review", {})

    done = AudienceImport.objects.first()
    assert response.status_code == 302 and done.status == "succeeded"
    assert AudienceMembership.objects.filter(status="exited").count() == 2


def test_a_file_that_empties_most_of_the_audience_needs_the_box_ticked(
    into, ecid, uploaded, django_capture_on_commit_callbacks
):
    _to_review(into, ecid, b"ecid,tier\n%s,silver\n" % ECID_1.encode())
    assert "Of its 4 members now, 3 would exit." in into.content

    _wizard_post(into, "review", {})
    assert into.step == "review"
    assert into.form.non_field_errors() == [
        "This file would make 3 of the audience's 4 members exit, more than half. Tick the box if that is what you "
        "want, or go back and pick the right file, column or namespace."
    ]
    assert uploaded.imports.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        _wizard_post(into, "review", {"confirm_exits": "on"})
    done = uploaded.imports.first()
    assert (done.status, done.confirm_exits) == ("succeeded", True)
    assert AudienceMembership.objects.filter(status="exited").count() == 3


def test_a_stopped_import_is_confirmed_from_its_page(
    client, user, sandbox, grant, uploaded, ecid, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    from personalization.audiences.imports.services import audience_import_start

    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        stopped = audience_import_start(
            user=user,
            audience=uploaded,
            upload=ContentFile(b"ecid\n" + ECID_1.encode() + b"\n", name="second.csv"),
            namespace=ecid,
            identity_column="ecid",
            expiration_days=30,
        )
    stopped.refresh_from_db()
    page = client.get(stopped.get_absolute_url()).content.decode()
    assert stopped.exits_refused == 3 and "Let 3 members exit and import this file" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("audiences:audience_import_confirm_exits", args=[stopped.pk]))

    again = uploaded.imports.first()
    assert response["Location"] == again.get_absolute_url()
    assert (again.status, again.confirm_exits, again.file_name) == ("succeeded", True, "second.csv")
    assert AudienceMembership.objects.filter(status="exited").count() == 3
    assert "Let 3 members exit" not in client.get(stopped.get_absolute_url()).content.decode()


def test_confirming_exits_needs_the_import_permissions(client, user, sandbox, grant, uploaded):
    grant(user, sandbox, VIEW_SEGMENTS)
    client.force_login(user)
    stopped = uploaded.imports.first()
    AudienceImport.objects.filter(pk=stopped.pk).update(status="failed", exits_refused=3)

    response = client.post(reverse("audiences:audience_import_confirm_exits", args=[stopped.pk]))

    assert response.status_code == 403
    assert uploaded.imports.count() == 1


def test_a_segmentation_audience_takes_no_file(client, user, sandbox, grant):
    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(user)
    audience = AudienceFactory(sandbox=sandbox)

    assert client.get(reverse("audiences:audience_import_into", args=[audience.pk])).status_code == 404


def test_an_audience_of_a_sandbox_the_user_cannot_see_is_not_found(client, user, sandbox, other_sandbox, grant):
    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    client.force_login(user)
    foreign = AudienceFactory(sandbox=other_sandbox, origin="custom_upload")

    assert client.get(reverse("audiences:audience_import_into", args=[foreign.pk])).status_code == 404


def test_an_audience_of_a_sandbox_where_the_user_only_views_is_forbidden(client, user, sandbox, other_sandbox, grant):
    grant(user, [sandbox, other_sandbox], VIEW_SEGMENTS)
    grant(user, sandbox, IMPORT_AUDIENCE, MANAGE_SEGMENTS)
    client.force_login(user)
    foreign = AudienceFactory(sandbox=other_sandbox, origin="custom_upload")

    assert client.get(reverse("audiences:audience_import_into", args=[foreign.pk])).status_code == 403
