"""What the import page tells a marketer about rejected rows, without downloading the report."""

import pytest

from django.core.files.base import ContentFile
from django.urls import reverse

from accounts.constants import IMPORT_AUDIENCE, MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.audiences.imports.report import FIRST_PROBLEMS_SHOWN
from personalization.audiences.imports.services import audience_import_create
from personalization.audiences.models import AudienceImport
from tests.factories import IdentityNamespaceFactory

pytestmark = pytest.mark.django_db

GOOD = "1" * 38


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def imported(sandbox, user, grant, django_capture_on_commit_callbacks):
    grant(user, sandbox, VIEW_SEGMENTS, MANAGE_SEGMENTS, IMPORT_AUDIENCE)
    namespace = IdentityNamespaceFactory(sandbox=sandbox, code="ECID")

    def _import(content: str) -> AudienceImport:
        with django_capture_on_commit_callbacks(execute=True):
            started = audience_import_create(
                user=user,
                sandbox=sandbox,
                name="Upload",
                upload=ContentFile(content.encode(), name="members.csv"),
                namespace=namespace,
                identity_column="ecid",
            )
        return AudienceImport.objects.get(pk=started.pk)

    return _import


def test_rejected_rows_are_counted_by_kind_and_the_first_ones_kept_for_the_page(imported):
    bad = ["%d" % n for n in range(12)]  # twelve values that are no ECID
    lines = ["ecid,tier", "%s,gold" % GOOD, *("%s,silver" % value for value in bad), "%s,gold" % GOOD, "x,y,z"]

    result = imported("\n".join(lines) + "\n")

    assert result.status == AudienceImport.Status.SUCCEEDED
    assert result.problem_counts == [
        ("Not a valid identity", 12),
        ("Identity repeated", 1),
        ("Wrong number of values", 1),
    ]
    assert result.problem_count == 14
    assert len(result.first_problems) == FIRST_PROBLEMS_SHOWN
    # the first bad value is on the file's third line: the header is row 1, as in a spreadsheet
    assert result.first_problems[0]["row"] == 3
    assert result.first_problems[0]["value"] == "0"


def test_the_import_page_shows_the_problems_and_how_rows_are_numbered(imported, user_client):
    result = imported("ecid\n%s\n12345\n" % GOOD)

    page = user_client.get(reverse("audiences:audience_import_detail", args=[result.pk])).content.decode()

    assert "Not a valid identity" in page
    assert "This is not a valid ECID identity: an ECID is exactly 38 digits." in page
    assert "the header is row 1, the first data row is row 2" in page


def test_a_file_that_fails_as_a_whole_says_so_on_the_page(imported, user_client):
    result = imported("ecid\n12345\n")

    page = user_client.get(reverse("audiences:audience_import_detail", args=[result.pk])).content.decode()

    assert result.status == AudienceImport.Status.FAILED
    assert "Not a valid identity" in page or "Problem with the whole file" in page


def test_an_import_without_problems_shows_no_problem_table(imported, user_client):
    result = imported("ecid\n%s\n" % GOOD)

    page = user_client.get(reverse("audiences:audience_import_detail", args=[result.pk])).content.decode()

    assert result.error_summary == {}
    assert "What was wrong" not in page
