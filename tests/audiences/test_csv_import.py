"""CSV custom upload: what lands, what is reported (row, column, value, message), and that failures write nothing."""

import csv
import datetime
import io
from pathlib import Path

import pytest

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.constants import IMPORT_AUDIENCE, MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.audiences.imports.services import audience_import_create, audience_import_start
from personalization.audiences.models import Audience, AudienceImport, AudienceMembership
from personalization.profiles.models import Identity, Profile
from tests.factories import IdentityFactory, IdentityNamespaceFactory, ProfileFactory

pytestmark = pytest.mark.django_db

ECID_1 = "1" * 38
ECID_2 = "2" * 38
ECID_3 = "3" * 38


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def importer(user, sandbox, grant):
    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    return user


@pytest.fixture
def run(importer, sandbox, django_capture_on_commit_callbacks):
    """Import `content` (bytes or str) into a new audience, or into `audience`; return the finished import."""

    def _run(content, *, code="ECID", column="ecid", audience=None, days=30, name="Upload", confirm_exits=False):
        namespace = IdentityNamespaceFactory(sandbox=sandbox, code=code)
        data = content.encode("utf-8") if isinstance(content, str) else content
        upload = ContentFile(data, name="members.csv")
        with django_capture_on_commit_callbacks(execute=True):
            if audience is None:
                started = audience_import_create(
                    user=importer,
                    sandbox=sandbox,
                    name=name,
                    upload=upload,
                    namespace=namespace,
                    identity_column=column,
                    expiration_days=days,
                )
            else:
                started = audience_import_start(
                    user=importer,
                    audience=audience,
                    upload=upload,
                    namespace=namespace,
                    identity_column=column,
                    expiration_days=days,
                    confirm_exits=confirm_exits,
                )
        return AudienceImport.objects.select_related("audience").get(pk=started.pk)

    return _run


def report(audience_import) -> list[dict]:
    """Return the error report's rows."""
    from django.conf import settings

    assert audience_import.error_report_path, "no error report"
    path = Path(settings.MEDIA_ROOT) / audience_import.error_report_path
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def nothing_written():
    return not Profile.objects.exists() and not Identity.objects.exists() and not AudienceMembership.objects.exists()


#
# What lands
#


def test_valid_rows_become_members_with_the_other_columns_as_payload(run):
    done = run("ecid,tier,city\n%s,gold,Berlin\n%s,silver,Paris\n" % (ECID_1, ECID_2))

    assert done.status == AudienceImport.Status.SUCCEEDED
    assert (done.rows_total, done.rows_valid, done.rows_invalid, done.profiles_created) == (2, 2, 0, 2)
    member = AudienceMembership.objects.get(profile__identities__value=ECID_1)
    assert member.payload == {"tier": "gold", "city": "Berlin"}
    assert member.status == AudienceMembership.Status.REALIZED
    assert done.error_report_path == ""


def test_unknown_identities_create_profiles_with_that_identity_as_primary(run):
    run("ecid\n%s\n" % ECID_1)

    identity = Identity.objects.get(value=ECID_1)
    assert identity.primary and identity.namespace.code == "ECID"


def test_known_identities_keep_their_profile(run, sandbox):
    namespace = IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    profile = ProfileFactory(sandbox=sandbox)
    IdentityFactory(profile=profile, namespace=namespace, value=ECID_1, primary=True)

    done = run("ecid\n%s\n" % ECID_1)

    assert done.profiles_created == 0
    assert AudienceMembership.objects.get().profile == profile


def test_the_first_import_publishes_the_audience_and_sets_its_expiry(run):
    before = timezone.now()
    done = run("ecid\n%s\n" % ECID_1, days=10)

    audience = done.audience
    assert audience.status == Audience.Status.PUBLISHED and audience.origin == Audience.Origin.CUSTOM_UPLOAD
    assert before + datetime.timedelta(days=10) <= audience.expires_at <= timezone.now() + datetime.timedelta(days=10)
    assert audience.profile_count == 1


@pytest.mark.parametrize(
    ("content", "delimiter"),
    [
        ("ecid;tier\n%s;gold\n" % ECID_1, ";"),
        ("ecid\ttier\n%s\tgold\n" % ECID_1, "\t"),
        ("ecid,tier\r\n%s,gold\r\n" % ECID_1, ","),
    ],
    ids=["semicolon", "tab", "crlf"],
)
def test_the_delimiter_is_detected(run, content, delimiter):
    done = run(content)

    assert done.rows_valid == 1
    assert AudienceMembership.objects.get().payload == {"tier": "gold"}


def test_a_byte_order_mark_is_accepted(run):
    done = run(b"\xef\xbb\xbfecid,tier\n" + ECID_1.encode() + b",gold\n")

    assert done.status == AudienceImport.Status.SUCCEEDED and done.rows_valid == 1


def test_quoted_values_may_hold_the_delimiter_and_newlines(run):
    done = run('ecid,note\n%s,"a, b\nc"\n%s,plain\n' % (ECID_1, ECID_2))

    assert done.rows_valid == 2
    assert AudienceMembership.objects.get(profile__identities__value=ECID_1).payload == {"note": "a, b\nc"}


def test_blank_lines_are_skipped_but_counted_in_row_numbers(run):
    done = run("ecid\n%s\n\nbad\n" % ECID_1)

    assert done.rows_valid == 1
    assert [row["row"] for row in report(done)] == ["4"]


def test_rerunning_the_same_file_changes_nothing(run):
    content = "ecid,tier\n%s,gold\n%s,silver\n" % (ECID_1, ECID_2)
    first = run(content)
    snapshot = list(
        AudienceMembership.objects.order_by("profile_id").values_list(
            "profile_id", "status", "qualified_at", "exited_at", "payload"
        )
    )
    expires_at = Audience.objects.get().expires_at

    second = run(content, audience=first.audience)

    assert second.status == AudienceImport.Status.SUCCEEDED and second.profiles_created == 0
    after = list(
        AudienceMembership.objects.order_by("profile_id").values_list(
            "profile_id", "status", "qualified_at", "exited_at", "payload"
        )
    )
    assert after == snapshot
    assert Profile.objects.count() == 2 and Identity.objects.count() == 2
    assert Audience.objects.get().expires_at == expires_at


def test_a_new_file_replaces_the_member_list(run):
    first = run("ecid,tier\n%s,gold\n%s,silver\n" % (ECID_1, ECID_2))

    run("ecid,tier\n%s,platinum\n%s,bronze\n" % (ECID_1, ECID_3), audience=first.audience)

    by_value = {m.profile.identities.get().value: m for m in AudienceMembership.objects.select_related("profile")}
    assert by_value[ECID_1].payload == {"tier": "platinum"} and by_value[ECID_1].status == "realized"
    assert by_value[ECID_2].status == "exited" and by_value[ECID_2].exited_at is not None
    assert by_value[ECID_3].status == "realized"
    assert Audience.objects.get().profile_count == 2


def test_a_known_profile_joins_an_audience_that_already_has_members(run, sandbox):
    first = run("ecid\n%s\n" % ECID_1)
    namespace = Identity.objects.get(value=ECID_1).namespace
    known = ProfileFactory(sandbox=sandbox)
    IdentityFactory(profile=known, namespace=namespace, value=ECID_2, primary=True)

    done = run("ecid,tier\n%s,gold\n%s,silver\n" % (ECID_1, ECID_2), audience=first.audience)

    assert done.profiles_created == 0
    first_profile = Identity.objects.get(value=ECID_1).profile_id
    assert {m.profile_id: (m.status, m.payload) for m in AudienceMembership.objects.all()} == {
        first_profile: ("realized", {"tier": "gold"}),
        known.pk: ("realized", {"tier": "silver"}),
    }
    assert Audience.objects.get().profile_count == 2


def test_an_exited_member_named_again_qualifies_again(run):
    first = run("ecid\n%s\n%s\n" % (ECID_1, ECID_2))
    run("ecid\n%s\n" % ECID_1, audience=first.audience)

    run("ecid\n%s\n%s\n" % (ECID_1, ECID_2), audience=first.audience)

    assert set(AudienceMembership.objects.values_list("status", flat=True)) == {"realized"}
    assert not AudienceMembership.objects.filter(exited_at__isnull=False).exists()


def test_a_file_with_only_a_header_changes_nothing_and_says_so(run):
    first = run("ecid\n%s\n" % ECID_1)

    done = run("ecid\n", audience=first.audience)

    assert done.status == AudienceImport.Status.FAILED
    assert done.error == (
        "The file has a header but no data rows, so nothing was imported and no member exits. Add one row per "
        "member of the audience."
    )
    assert AudienceMembership.objects.get().status == "realized"
    assert Audience.objects.get().profile_count == 1


def test_a_file_whose_rows_are_all_invalid_changes_nothing(run):
    emails = ["ann%d@example.com" % n for n in range(5)]
    first = run("email\n" + "\n".join(emails) + "\n", code="Email", column="email")

    # The same file again, with the ECID namespace picked by mistake: no row is a valid ECID.
    done = run("email\n" + "\n".join(emails) + "\n", code="ECID", column="email", audience=first.audience)

    assert done.status == AudienceImport.Status.FAILED
    assert (done.rows_valid, done.rows_invalid) == (0, 0)
    assert done.error == (
        "None of the file's 5 data rows is valid (the error report lists why), so nothing was imported and no "
        "member exits. Fix the rows, or check that the identity column and namespace are the right ones."
    )
    assert [row["row"] for row in report(done)] == ["2", "3", "4", "5", "6", ""]
    assert set(AudienceMembership.objects.values_list("status", flat=True)) == {"realized"}
    assert AudienceMembership.objects.count() == 5


#
# A file that would empty most of an audience needs a confirmation
#


def test_a_file_that_makes_more_than_half_the_members_exit_stops_and_asks_for_a_confirmation(run):
    first = run("ecid\n%s\n%s\n%s\n" % (ECID_1, ECID_2, ECID_3))

    done = run("ecid\n%s\n" % ("4" * 38), audience=first.audience)

    assert done.status == AudienceImport.Status.FAILED
    assert done.awaits_exit_confirmation and done.exits_refused == 3
    assert done.error == (
        "This file would make 3 of the audience's 3 members exit (they are not in the file), more than half of "
        "them. Nothing was changed. If the file is the audience's new member list, confirm the exits and import it "
        "again; otherwise check the identity column and namespace."
    )
    assert set(AudienceMembership.objects.values_list("status", flat=True)) == {"realized"}
    assert not Identity.objects.filter(value="4" * 38).exists()


def test_confirmed_exits_are_imported(run):
    first = run("ecid\n%s\n%s\n%s\n" % (ECID_1, ECID_2, ECID_3))

    done = run("ecid\n%s\n" % ECID_1, audience=first.audience, confirm_exits=True)

    assert done.status == AudienceImport.Status.SUCCEEDED
    assert sorted(AudienceMembership.objects.values_list("status", flat=True)) == ["exited", "exited", "realized"]


def test_up_to_half_the_members_may_exit_without_a_confirmation(run):
    first = run("ecid\n%s\n%s\n" % (ECID_1, ECID_2))

    done = run("ecid\n%s\n" % ECID_1, audience=first.audience)

    assert done.status == AudienceImport.Status.SUCCEEDED
    assert sorted(AudienceMembership.objects.values_list("status", flat=True)) == ["exited", "realized"]


def test_reimporting_refreshes_the_expiry_only_when_fewer_than_7_days_remain(run):
    first = run("ecid\n%s\n" % ECID_1, days=30)
    audience = first.audience
    far = timezone.now() + datetime.timedelta(days=8)
    Audience.objects.filter(pk=audience.pk).update(expires_at=far)

    run("ecid\n%s\n" % ECID_1, audience=audience, days=30)
    assert Audience.objects.get().expires_at == far

    near = timezone.now() + datetime.timedelta(days=6)
    Audience.objects.filter(pk=audience.pk).update(expires_at=near)
    run("ecid\n%s\n" % ECID_1, audience=audience, days=30)
    assert Audience.objects.get().expires_at > timezone.now() + datetime.timedelta(days=29)


def test_the_edge_store_is_told_which_profiles_changed(run, monkeypatch):
    from personalization import changes

    announced = []
    monkeypatch.setattr(
        changes, "announce_profiles_changed", lambda sandbox_id, ids: announced.append((sandbox_id, set(ids)))
    )

    done = run("ecid\n%s\n" % ECID_1)

    profile_id = Identity.objects.get(value=ECID_1).profile_id
    assert announced == [(done.audience.sandbox_id, {profile_id})]


def test_too_many_changed_profiles_refresh_the_whole_sandbox(run, monkeypatch, settings):
    from personalization import changes

    settings.AUDIENCE_IMPORT_ANNOUNCE_LIMIT = 1
    configured, profiles = [], []
    monkeypatch.setattr(changes, "announce_configuration_changed", configured.append)
    monkeypatch.setattr(changes, "announce_profiles_changed", lambda *args: profiles.append(args))

    done = run("ecid\n%s\n%s\n" % (ECID_1, ECID_2))

    # Saves announce the configuration too; what matters is that no profile list was sent.
    assert done.audience.sandbox_id in configured and profiles == []


#
# Bad input: file-level problems fail the import and write nothing
#

FILE_PROBLEMS = {
    "empty file": (b"", "The file is empty: the first line must be a header naming the columns."),
    "blank first line": (b"\n\n", "The file is empty: the first line must be a header naming the columns."),
    "not utf-8 in the header": (
        b"ecid,st\xe4dt\n",
        'The file is not UTF-8: the byte at offset 7 cannot be decoded. Save the file as "CSV UTF-8" '
        "(with or without BOM) and upload it again.",
    ),
    "not utf-8 after valid rows": (
        ("ecid,city\n%s,Berlin\n%s,M" % (ECID_1, ECID_2)).encode() + b"\xfcnchen\n",
        'The file is not UTF-8: the byte at offset 96 cannot be decoded. Save the file as "CSV UTF-8" '
        "(with or without BOM) and upload it again.",
    ),
    "utf-16": (
        "ecid\n1\n".encode("utf-16"),
        'The file is not UTF-8: the byte at offset 0 cannot be decoded. Save the file as "CSV UTF-8" '
        "(with or without BOM) and upload it again.",
    ),
    "space in a header": (
        b"ecid,First Name\n",
        'Column 2, "First Name": header names cannot contain spaces or dashes; use e.g. "First_Name".',
    ),
    "dash in a header": (
        b"ecid,first-name\n",
        'Column 2, "first-name": header names cannot contain spaces or dashes; use e.g. "first_name".',
    ),
    "duplicate header": (b"ecid,tier,tier\n", 'Column 3, "tier": the header names this column twice; rename one.'),
    "unnamed column": (b"ecid,,tier\n", "Column 2 has no name; give every column a header."),
    "too many columns": (
        ("ecid," + ",".join("c%d" % n for n in range(25)) + "\n").encode(),
        "The file has 26 columns; at most 25 are allowed. Remove 1 columns.",
    ),
    "identity column missing": (
        b"email,tier\n",
        'The identity column "ecid" is not in the header; pick one of: email, tier.',
    ),
    "a byte order mark inside a header name": (
        b"ecid,\xef\xbb\xbftier\n",
        'Column 2, "\\ufefftier": the header name contains an invisible or control character, U+FEFF ZERO WIDTH '
        "NO-BREAK SPACE at position 1; retype the name (a byte order mark inside a file often comes from joining "
        "two files).",
    ),
    "a zero-width space in a header name": (
        "ecid,ti\u200ber\n".encode(),
        'Column 2, "ti\\u200ber": the header name contains an invisible or control character, U+200B ZERO WIDTH '
        "SPACE at position 3; retype the name (a byte order mark inside a file often comes from joining two files).",
    ),
    "a NUL in a header name": (
        b"ecid,ti\x00er\n",
        'Column 2, "ti\\x00er": the header name contains an invisible or control character, U+0000 a control '
        "character at position 3; retype the name (a byte order mark inside a file often comes from joining two "
        "files).",
    ),
    "only a header": (
        b"ecid,tier\n",
        "The file has a header but no data rows, so nothing was imported and no member exits. Add one row per "
        "member of the audience.",
    ),
    "no valid row": (
        b"ecid,tier\n12,gold\n\n34,silver\n",
        "None of the file's 2 data rows is valid (the error report lists why), so nothing was imported and no "
        "member exits. Fix the rows, or check that the identity column and namespace are the right ones.",
    ),
    "a line longer than 1 MB": (
        b"ecid,note\n" + ECID_1.encode() + b"," + b"x" * (1024 * 1024 + 10) + b"\n",
        "The line starting at byte offset 10 is longer than 1048576 bytes; is this a CSV file?",
    ),
}


@pytest.mark.parametrize("kind", list(FILE_PROBLEMS))
def test_file_level_problems_fail_the_import_with_a_message_and_write_nothing(run, kind):
    content, message = FILE_PROBLEMS[kind]

    done = run(content)

    assert done.status == AudienceImport.Status.FAILED
    assert done.error == message
    assert report(done)[-1]["message"] == message
    assert nothing_written()
    assert Audience.objects.get().status == Audience.Status.DRAFT and Audience.objects.get().expires_at is None


def test_an_expired_upload_cannot_be_refreshed(run):
    first = run("ecid\n%s\n" % ECID_1)
    Audience.objects.filter(pk=first.audience_id).update(expires_at=datetime.datetime(2020, 5, 1, tzinfo=datetime.UTC))

    done = run("ecid\n%s\n" % ECID_2, audience=Audience.objects.get())

    assert done.status == AudienceImport.Status.FAILED
    assert done.error == (
        "Upload expired on 2020-05-01; an expired upload cannot be refreshed. Import the file into a new audience "
        "instead."
    )
    assert not Identity.objects.filter(value=ECID_2).exists()


#
# Bad input: row-level problems are reported, the other rows land
#

ROW_PROBLEMS = {
    "empty identity": (
        "ECID",
        "ecid,tier\n,gold\n",
        "ecid",
        "",
        "The identity is empty; fill it in or remove the row.",
    ),
    "short ECID": (
        "ECID",
        "ecid\n12345\n",
        "ecid",
        "12345",
        "This is not a valid ECID identity: an ECID is exactly 38 digits.",
    ),
    "ECID with letters": (
        "ECID",
        "ecid\n%s\n" % ("a" * 38),
        "ecid",
        "a" * 38,
        "This is not a valid ECID identity: an ECID is exactly 38 digits.",
    ),
    "malformed email": (
        "Email",
        "email\nnot-an-email\n",
        "email",
        "not-an-email",
        "This is not a valid Email identity: an email address looks like name@example.com.",
    ),
    "email with a space": (
        "Email",
        "email\nann @example.com\n",
        "email",
        "ann @example.com",
        "This is not a valid Email identity: an email address looks like name@example.com.",
    ),
    "uppercase hashed email": (
        "Email_LC_SHA256",
        "hash\n%s\n" % ("A" * 64),
        "hash",
        "A" * 64,
        "This is not a valid Email_LC_SHA256 identity: a SHA-256 hash of a lowercased email is 64 lowercase "
        "hexadecimal characters.",
    ),
    "phone with letters": (
        "Phone",
        "phone\n+49 30 CALLME\n",
        "phone",
        "+49 30 CALLME",
        "This is not a valid Phone identity: a phone number is 7 to 15 digits, optionally after a +.",
    ),
    "custom identity with whitespace": (
        "CRMID",
        "crm\nabc def\n",
        "crm",
        "abc def",
        "The identity contains whitespace; CRMID identities cannot.",
    ),
    "identity over 512 characters": (
        "CRMID",
        "crm\n%s\n" % ("x" * 513),
        "crm",
        "x" * 513,
        "The identity has 513 characters; at most 512 are allowed.",
    ),
    "payload value over 1024 characters": (
        "ECID",
        "ecid,note\n%s,%s\n" % (ECID_1, "y" * 1025),
        "note",
        "y" * 100 + "…",
        "The value has 1025 characters; at most 1024 are allowed. Shorten it.",
    ),
    "too many values": (
        "ECID",
        "ecid,tier\n%s,gold,extra\n" % ECID_1,
        "",
        "%s,gold,extra" % ECID_1,
        "The row has 3 values but the header has 2 columns; quote values that contain the delimiter, or add the "
        "missing ones.",
    ),
    "too few values": (
        "ECID",
        "ecid,tier,city\n%s,gold\n" % ECID_1,
        "",
        "%s,gold" % ECID_1,
        "The row has 2 values but the header has 3 columns; quote values that contain the delimiter, or add the "
        "missing ones.",
    ),
    "stray quote": (
        "ECID",
        'ecid,tier\n%s,"gold"x\n' % ECID_1,
        "",
        "",
        "The row cannot be read as CSV: a quoted value must end with a quote followed by a comma or the end of "
        "the line; text follows its closing quote. Check this row's quotes.",
    ),
    "a value larger than the CSV reader takes": (
        "ECID",
        'ecid,note\n%s,"%s"\n' % (ECID_1, "q" * 140_000),
        "",
        "",
        "The row cannot be read as CSV: a value is longer than 131072 characters, far over the 1024 allowed; an "
        "opening quote without its closing quote makes the rest of the file one value. Check this row's quotes.",
    ),
    "a carriage return inside an unquoted value": (
        "ECID",
        "ecid,tier\n%s,go\rld\n" % ECID_1,
        "",
        "",
        "The row cannot be read as CSV: a line break (carriage return) stands inside a value that is not in "
        "quotes; put the value in quotes, or save the file with one kind of line ending. Check this row's quotes.",
    ),
    "a NUL in a payload value": (
        "ECID",
        "ecid,tier\n%s,go\x00ld\n" % ECID_1,
        "tier",
        "go\\x00ld",
        "The value contains the NUL character (U+0000) at position 3; remove it.",
    ),
    "a NUL in an identity": (
        "CRMID",
        "crm\ncrm\x0042\n",
        "crm",
        "crm\\x0042",
        "The identity contains an invisible or control character, U+0000 a control character at position 4; remove "
        "it (it often comes from copying a value out of a document or spreadsheet).",
    ),
    "a byte order mark before an email": (
        "Email",
        "email\n\ufeffa@example.com\n",
        "email",
        "\\ufeffa@example.com",
        "The identity contains an invisible or control character, U+FEFF ZERO WIDTH NO-BREAK SPACE at position 1; "
        "remove it (it often comes from copying a value out of a document or spreadsheet).",
    ),
    "a zero-width space inside an email": (
        "Email",
        "email\nzw\u200b1@example.com\n",
        "email",
        "zw\\u200b1@example.com",
        "The identity contains an invisible or control character, U+200B ZERO WIDTH SPACE at position 3; remove it "
        "(it often comes from copying a value out of a document or spreadsheet).",
    ),
    "a word joiner in a CRM id": (
        "CRMID",
        "crm\ncrm\u206042\n",
        "crm",
        "crm\\u206042",
        "The identity contains an invisible or control character, U+2060 WORD JOINER at position 4; remove it (it "
        "often comes from copying a value out of a document or spreadsheet).",
    ),
    "a soft hyphen in an email": (
        "Email",
        "email\nan\u00adn@example.com\n",
        "email",
        "an\\xadn@example.com",
        "The identity contains an invisible or control character, U+00AD SOFT HYPHEN at position 3; remove it (it "
        "often comes from copying a value out of a document or spreadsheet).",
    ),
    "a left-to-right mark in an email": (
        "Email",
        "email\n\u200eann@example.com\n",
        "email",
        "\\u200eann@example.com",
        "The identity contains an invisible or control character, U+200E LEFT-TO-RIGHT MARK at position 1; remove "
        "it (it often comes from copying a value out of a document or spreadsheet).",
    ),
    "a C1 control in a CRM id": (
        "CRMID",
        "crm\ncrm\u008542\n",
        "crm",
        "crm\\x8542",
        "The identity contains an invisible or control character, U+0085 a control character at position 4; remove "
        "it (it often comes from copying a value out of a document or spreadsheet).",
    ),
    "a line separator in a CRM id": (
        "CRMID",
        "crm\ncrm\u202842\n",
        "crm",
        "crm\\u202842",
        "The identity contains an invisible or control character, U+2028 LINE SEPARATOR at position 4; remove it "
        "(it often comes from copying a value out of a document or spreadsheet).",
    ),
    "a tab in a CRM id": (
        "CRMID",
        'crm\n"crm\t42"\n',
        "crm",
        "crm\\t42",
        "The identity contains an invisible or control character, U+0009 a control character at position 4; remove "
        "it (it often comes from copying a value out of a document or spreadsheet).",
    ),
    "an ECID in Arabic-Indic digits": (
        "ECID",
        "ecid\n%s\n" % ("\u0661" * 38),
        "ecid",
        "\u0661" * 38,
        "This is not a valid ECID identity: an ECID is exactly 38 digits.",
    ),
    "a phone number in full-width digits": (
        "Phone",
        "phone\n\uff14\uff19\uff13\uff10\uff11\uff12\uff13\uff14\n",
        "phone",
        "\uff14\uff19\uff13\uff10\uff11\uff12\uff13\uff14",
        "This is not a valid Phone identity: a phone number is 7 to 15 digits, optionally after a +.",
    ),
}


@pytest.mark.parametrize("kind", list(ROW_PROBLEMS))
def test_row_level_problems_are_reported_and_the_other_rows_land(run, kind):
    code, body, column, value, message = ROW_PROBLEMS[kind]
    good = {"ECID": ECID_2, "Email": "ann@example.com", "Email_LC_SHA256": "a" * 64, "Phone": "+4930123456"}.get(
        code, "crm-42"
    )
    header, rest = body.split("\n", 1)
    extra = "," * header.count(",")
    content = "%s\n%s%s%s\n" % (header, rest, good, extra)

    done = run(content, code=code, column=header.split(",")[0])

    assert done.status == AudienceImport.Status.SUCCEEDED
    assert (done.rows_total, done.rows_valid, done.rows_invalid) == (2, 1, 1)
    assert report(done) == [{"row": "2", "column": column, "value": value, "message": message}]
    assert AudienceMembership.objects.get().profile.identities.get().value == good
    assert Identity.objects.count() == 1


def test_a_duplicate_identity_is_reported_with_the_first_rows_number(run):
    done = run("ecid,tier\n%s,gold\n%s,silver\n%s,bronze\n" % (ECID_1, ECID_2, ECID_1))

    assert report(done) == [
        {
            "row": "4",
            "column": "ecid",
            "value": ECID_1,
            "message": "This identity already appears in row 2; each identity may appear once.",
        }
    ]
    assert AudienceMembership.objects.get(profile__identities__value=ECID_1).payload == {"tier": "gold"}


def test_a_row_can_have_several_problems(run):
    done = run("ecid,note\n12,%s\n%s,ok\n" % ("z" * 2000, ECID_1))

    assert [(row["column"], row["message"][:30]) for row in report(done)] == [
        ("note", "The value has 2000 characters;"),
        ("ecid", "This is not a valid ECID ident"),
    ]
    assert done.rows_invalid == 1
    assert [membership.profile.identities.get().value for membership in AudienceMembership.objects.all()] == [ECID_1]


#
# All or nothing
#


def test_a_crash_in_a_later_batch_leaves_nothing_written(run, settings, monkeypatch):
    from personalization.audiences.imports import writers

    settings.AUDIENCE_IMPORT_BATCH_SIZE = 2
    real_write = writers.Writer.write
    calls = []

    def failing_write(self, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real_write(self, rows)

    monkeypatch.setattr(writers.Writer, "write", failing_write)

    done = run("ecid\n%s\n%s\n%s\n" % (ECID_1, ECID_2, ECID_3))

    assert calls == [2, 1]
    assert done.status == AudienceImport.Status.FAILED
    assert done.error == "The import stopped on an unexpected error and wrote nothing; try again or contact an admin."
    assert nothing_written()


def _pending_import(importer, sandbox, name="Retry"):
    return audience_import_create(  # the task is not run: no on_commit callbacks execute here
        user=importer,
        sandbox=sandbox,
        name=name,
        upload=ContentFile(("ecid\n%s\n" % ECID_1).encode(), name="a.csv"),
        namespace=IdentityNamespaceFactory(sandbox=sandbox),
        identity_column="ecid",
    )


def test_a_lost_database_connection_releases_the_import_for_a_retry_and_the_last_retry_fails_it(
    importer, sandbox, monkeypatch
):
    from celery.exceptions import Retry

    from django.db import OperationalError

    from personalization.audiences.imports import writers
    from personalization.audiences.tasks import IMPORT_MAX_RETRIES, import_csv

    def broken_write(self, rows):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(writers.Writer, "write", broken_write)
    started = _pending_import(importer, sandbox)

    with pytest.raises(Retry):
        import_csv.apply(args=(started.pk,), throw=True)
    assert AudienceImport.objects.get().status == AudienceImport.Status.PENDING

    with pytest.raises(OperationalError):
        import_csv.apply(args=(started.pk,), retries=IMPORT_MAX_RETRIES, throw=True)
    done = AudienceImport.objects.get()
    assert done.status == AudienceImport.Status.FAILED
    assert done.error == (
        "The database was unavailable or busy on 4 attempts in a row, so nothing was written. Import the file "
        "again later."
    )
    assert nothing_written()


def test_a_value_the_database_refuses_fails_the_import_at_once_in_plain_words(importer, sandbox, monkeypatch):
    from django.db import DataError

    from personalization.audiences.imports import writers
    from personalization.audiences.tasks import import_csv

    def refused_write(self, rows):
        raise DataError("invalid byte sequence for encoding UTF8: 0x00")

    monkeypatch.setattr(writers.Writer, "write", refused_write)
    started = _pending_import(importer, sandbox)

    import_csv.apply(args=(started.pk,), throw=True)  # no Retry: the same file would fail the same way

    done = AudienceImport.objects.get()
    assert done.status == AudienceImport.Status.FAILED
    assert done.error == (
        "The database refused to store this file's rows, so nothing was written. Check the file for unusual "
        "characters and try again; if it happens again, an admin can find the cause in the server log."
    )
    assert "0x00" not in done.error
    assert nothing_written()


def test_a_file_with_carriage_return_line_ends_is_read_row_by_row(run):
    done = run(('ecid,tier\r%s,gold\r\r%s,"sil\rver"\r12\r' % (ECID_1, ECID_2)).encode())

    assert done.status == AudienceImport.Status.SUCCEEDED
    assert (done.rows_valid, done.rows_invalid) == (2, 1)
    assert report(done)[0]["row"] == "5"
    assert sorted(AudienceMembership.objects.values_list("payload__tier", flat=True)) == ["gold", "sil\rver"]


def test_an_unclosed_quote_at_the_end_of_the_file_is_a_row_error(run):
    done = run('ecid,tier\n%s,gold\n%s,"silver\n' % (ECID_1, ECID_2))

    assert (done.rows_valid, done.rows_invalid) == (1, 1)
    assert report(done) == [
        {
            "row": "3",
            "column": "",
            "value": "",
            "message": "The row cannot be read as CSV: the file ends inside a quoted value: a closing quote is "
            "missing. Check this row's quotes.",
        }
    ]


def test_an_identity_another_writer_adds_first_fails_the_import_for_a_retry(importer, sandbox, monkeypatch):
    from django.db import DatabaseError, connection

    from personalization.audiences.imports import copy_writer
    from personalization.audiences.imports.run import audience_import_run

    if connection.vendor != "postgresql":
        pytest.skip("the set-based merge is PostgreSQL's")
    namespace = IdentityNamespaceFactory(sandbox=sandbox)
    real_execute = copy_writer.CopyWriter._execute

    def racing_execute(self, phase, sql, params):
        if phase == "identities":  # after the lookup found ECID_1 unknown, someone else adds it
            IdentityFactory(profile=ProfileFactory(sandbox=sandbox), namespace=namespace, value=ECID_1)
        return real_execute(self, phase, sql, params)

    monkeypatch.setattr(copy_writer.CopyWriter, "_execute", racing_execute)
    started = audience_import_create(  # the task is not run: no on_commit callbacks execute here
        user=importer,
        sandbox=sandbox,
        name="Race",
        upload=ContentFile(("ecid\n%s\n%s\n" % (ECID_1, ECID_2)).encode(), name="a.csv"),
        namespace=namespace,
        identity_column="ecid",
    )

    with pytest.raises(DatabaseError):
        audience_import_run(import_id=started.pk)
    assert nothing_written()  # the other writer's identity was written inside the import's transaction here


def test_a_claimed_import_is_not_run_twice(run):
    from personalization.audiences.imports.run import audience_import_run

    done = run("ecid\n%s\n" % ECID_1)

    assert audience_import_run(import_id=done.pk) is None
    assert AudienceMembership.objects.count() == 1


def test_the_import_task_has_a_stable_name():
    from personalization.audiences.tasks import import_csv

    assert import_csv.name == "personalization.audiences.import_csv"


#
# Services refuse what they must
#


def test_starting_an_import_needs_import_audience(user, sandbox, grant):
    from django.core.exceptions import PermissionDenied

    grant(user, sandbox, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    namespace = IdentityNamespaceFactory(sandbox=sandbox)

    with pytest.raises(PermissionDenied):
        audience_import_create(
            user=user,
            sandbox=sandbox,
            name="Nope",
            upload=ContentFile(b"ecid\n", name="a.csv"),
            namespace=namespace,
            identity_column="ecid",
        )
    assert not Audience.objects.exists()


def test_a_namespace_of_another_sandbox_is_refused(importer, sandbox, other_sandbox):
    from django.core.exceptions import ValidationError

    foreign = IdentityNamespaceFactory(sandbox=other_sandbox)

    with pytest.raises(ValidationError) as excinfo:
        audience_import_create(
            user=importer,
            sandbox=sandbox,
            name="Cross",
            upload=ContentFile(b"ecid\n", name="a.csv"),
            namespace=foreign,
            identity_column="ecid",
        )
    assert excinfo.value.message_dict == {"namespace": ["Pick an identity namespace of this sandbox."]}
    assert not Audience.objects.exists()


@pytest.mark.parametrize("external_id", ["1abc", "a-b", "has space", "é"])
def test_a_malformed_external_id_is_refused(importer, sandbox, external_id):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as excinfo:
        audience_import_create(
            user=importer,
            sandbox=sandbox,
            name="Ext",
            external_id=external_id,
            upload=ContentFile(b"ecid\n", name="a.csv"),
            namespace=IdentityNamespaceFactory(sandbox=sandbox),
            identity_column="ecid",
        )
    assert "external_id" in excinfo.value.message_dict


#
# Time-ordered profile ids, payload fidelity, what is announced
#


def test_time_ordered_uuids_are_version_7_and_sort_by_time_then_counter():
    import uuid

    from personalization.audiences.imports.writers import time_ordered_uuid

    moment = 1_764_000_000_000
    ids = [time_ordered_uuid(moment, counter) for counter in (0, 1, 2**20 - 1, 2**20, 2**32 - 1)]
    later = time_ordered_uuid(moment + 1, 0)

    assert all(isinstance(value, uuid.UUID) and value.version == 7 for value in ids)
    assert all(value.variant == uuid.RFC_4122 for value in ids)
    assert all(int.from_bytes(value.bytes[:6], "big") == moment for value in ids)
    assert ids == sorted(ids) and max(ids) < later
    assert len({time_ordered_uuid(moment, 0) for _ in range(100)}) == 100  # the random bits tell them apart
    with pytest.raises(ValueError):
        time_ordered_uuid(moment, 2**32)


def test_profiles_an_import_creates_have_time_ordered_ids(run):
    import time
    import uuid

    before = int(timezone.now().timestamp() * 1000)
    first = run("ecid\n%s\n%s\n" % (ECID_1, ECID_2))
    time.sleep(0.002)  # the next import's millisecond is a later one
    run("ecid\n%s\n%s\n%s\n" % (ECID_1, ECID_2, ECID_3), audience=first.audience)
    after = int(timezone.now().timestamp() * 1000)

    ids = {identity.value: identity.profile_id for identity in Identity.objects.all()}
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in ids.values())
    assert all(before <= int.from_bytes(value.bytes[:6], "big") <= after for value in ids.values())
    # In creation order: within an import (rows in identity order), then across imports.
    assert ids[ECID_1] < ids[ECID_2] < ids[ECID_3]
    assert Profile.objects.get(pk=ids[ECID_3]).created_at > Profile.objects.get(pk=ids[ECID_2]).created_at


def test_payload_values_land_exactly_as_written(run):
    tricky = ["", "tab\there", "back\\slash", "line\nbreak", 'quote "q"', "ünïcødé ✓", "\\N", "NULL", " padded "]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["note", "ecid", "other"])
    writer.writerows([[value, str(int(ECID_1) + number), "x"] for number, value in enumerate(tricky)])

    done = run(buffer.getvalue())

    assert done.rows_valid == len(tricky)
    payloads = {
        member.profile.identities.get().value: member.payload
        for member in AudienceMembership.objects.select_related("profile")
    }
    assert payloads == {str(int(ECID_1) + number): {"note": value, "other": "x"} for number, value in enumerate(tricky)}


def test_a_file_with_only_the_identity_column_gives_empty_payloads(run):
    run("ecid\n%s\n" % ECID_1)

    assert AudienceMembership.objects.get().payload == {}


def test_exactly_as_many_changes_as_the_limit_are_announced_by_profile(run, monkeypatch, settings):
    from personalization import changes

    settings.AUDIENCE_IMPORT_ANNOUNCE_LIMIT = 2
    first = run("ecid,tier\n%s,gold\n%s,gold\n" % (ECID_1, ECID_2))
    announced = []
    monkeypatch.setattr(changes, "announce_profiles_changed", lambda sandbox_id, ids: announced.append(set(ids)))

    # ECID_1's payload changes, ECID_2 exits, ECID_3 is new: three changes, one over the limit.
    run("ecid,tier\n%s,silver\n%s,gold\n" % (ECID_1, ECID_3), audience=first.audience)
    assert announced == []
    # The same file again changes nothing; then one payload change and one exit are two changes, within it.
    run("ecid,tier\n%s,silver\n%s,gold\n" % (ECID_1, ECID_3), audience=first.audience)
    assert announced == []
    run("ecid,tier\n%s,bronze\n" % ECID_1, audience=first.audience)

    ids = dict(Identity.objects.values_list("value", "profile_id"))
    assert announced == [{ids[ECID_1], ids[ECID_3]}]


def test_a_finished_import_logs_where_its_time_went(run, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="personalization.audiences.csv_import"):
        done = run("ecid\n%s\n" % ECID_1)

    (record,) = [record for record in caplog.records if record.getMessage() == "audience.import.succeeded"]
    assert record.import_id == done.pk and record.rows_valid == 1
    assert {"read", "write", "commit"} <= set(record.seconds)
    assert all(seconds >= 0 for seconds in record.seconds.values())


def test_the_import_leaves_the_sessions_work_mem_as_it_found_it(run):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("work_mem is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '5MB'")

    run("ecid\n%s\n" % ECID_1)

    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone() == ("5MB",)
