"""A marketer imports a CSV audience in Chromium: the wizard, the progress bar filling, the error report download."""

import csv
import io

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture then skips these tests, or fails them under REQUIRE_SERVICES
    expect = None

from accounts.constants import IMPORT_AUDIENCE, MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.audiences.models import AudienceImport, AudienceMembership
from tests.factories import IdentityNamespaceFactory, SandboxFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ECID_1, ECID_2 = "1" * 38, "2" * 38
CONTENT = "ecid;tier;city\n%s;gold;Berlin\n%s;silver;Paris\n12345;bronze;Rome\n%s;gold;Oslo\n" % (
    ECID_1,
    ECID_2,
    ECID_1,
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_a_marketer_imports_a_csv_watches_it_finish_and_downloads_the_error_report(
    page, login, screenshot, grant, monkeypatch, tmp_path, assert_inputs_labelled
):
    from personalization.audiences import tasks
    from personalization.audiences.imports.run import audience_import_run

    # given: the task is held back so the page shows the import pending, then it runs while the page polls
    queued = []
    monkeypatch.setattr(tasks.import_csv, "delay", queued.append)
    sandbox = SandboxFactory(name="prod", title="Production")
    IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    user = UserFactory(username="marketer")
    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    upload = tmp_path / "crm-gold.csv"
    upload.write_text(CONTENT, encoding="utf-8")
    login(page, user)

    # when: the wizard, step by step
    page.goto("/audiences/")
    page.get_by_role("button", name="Import audience").click()
    page.get_by_label("CSV file").set_input_files(str(upload))
    assert_inputs_labelled(page)
    screenshot(page, "csv-import-1-upload")
    page.get_by_role("button", name="Next").last.click()
    expect(page.get_by_role("heading", name="Step 2 of 4: Sample data")).to_be_visible()
    expect(page.locator("table.csv-preview")).to_contain_text("silver")
    expect(page.get_by_text("semicolon separated")).to_be_visible()
    screenshot(page, "csv-import-2-preview")
    page.get_by_role("button", name="Next").last.click()
    page.get_by_role("textbox", name="Name").fill("CRM gold")
    page.get_by_label("Primary identity column").select_option("ecid")
    page.get_by_label("Identity namespace").select_option(label="ECID")
    page.get_by_label("External audience ID").fill("9-bad")
    page.get_by_role("button", name="Next").last.click()
    expect(page.get_by_text("Start with a letter, _ or $")).to_be_visible()
    page.get_by_label("External audience ID").fill("crm_gold")
    assert_inputs_labelled(page)
    screenshot(page, "csv-import-3-details")
    page.get_by_role("button", name="Next").last.click()
    expect(page.get_by_role("heading", name="Step 4 of 4: Review")).to_be_visible()
    screenshot(page, "csv-import-4-review")
    page.get_by_role("button", name="Finish").click()

    # then: the import page polls its progress until the import finishes
    progress = page.locator("#import-progress progress")
    expect(progress).to_have_attribute("value", "0")
    expect(page.locator("#import-progress")).to_contain_text("Pending")
    assert len(queued) == 1
    audience_import_run(import_id=queued[0])
    expect(progress).to_have_attribute("value", "100", timeout=10_000)
    expect(page.locator("#import-progress")).to_contain_text("Succeeded")
    # the rejected rows are on the page, counted by kind, numbered as a spreadsheet numbers them
    expect(page.get_by_text("was created from your file")).to_be_visible()
    expect(page.get_by_text("is being imported")).to_have_count(0)
    counts = page.locator("table.import-problem-counts tbody tr")
    expect(counts).to_have_text(["Identity repeated1", "Not a valid identity1"])  # two cells per row
    first = page.locator("table.import-first-problems tbody tr")
    expect(first.first).to_contain_text("4")
    expect(first.first).to_contain_text("This is not a valid ECID identity")
    expect(page.get_by_text("the header is row 1, the first data row is row 2")).to_be_visible()
    screenshot(page, "csv-import-5-finished")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download the error report").click()
    rows = list(csv.DictReader(io.StringIO(open(download_info.value.path(), encoding="utf-8").read())))
    assert [(row["row"], row["column"], row["value"]) for row in rows] == [
        ("4", "ecid", "12345"),
        ("5", "ecid", ECID_1),
    ]
    assert rows[1]["message"] == "This identity already appears in row 2; each identity may appear once."
    assert AudienceMembership.objects.count() == 2
    assert AudienceImport.objects.get().rows_invalid == 2

    # and the audience page shows the history and the chart
    page.get_by_role("link", name="CRM gold").first.click()
    expect(page.get_by_role("heading", name="Import history")).to_be_visible()
    expect(page.locator("svg.membership-chart")).to_be_visible()
    screenshot(page, "csv-import-6-audience")
