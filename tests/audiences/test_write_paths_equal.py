"""
The two ways each big write is done store the same memberships: the CSV import's `COPY` writer and its ORM writer,
and batch evaluation's SQL work list and its ORM chunks. PostgreSQL runs the first of each, the embedded mode
(SQLite) the second; here both run on PostgreSQL, on the same inputs, one sandbox each.
"""

import datetime
import os

import pytest

from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone

from accounts.constants import IMPORT_AUDIENCE, MANAGE_SEGMENTS, VIEW_SEGMENTS
from personalization.audiences.evaluation import audience_evaluate, batch
from personalization.audiences.imports import run
from personalization.audiences.imports.copy_writer import CopyWriter
from personalization.audiences.imports.services import audience_import_create, audience_import_start
from personalization.audiences.models import Audience, AudienceImport, AudienceMembership
from personalization.profiles.models import Profile
from tests.factories import IdentityNamespaceFactory, ProfileFactory, ProfileFieldFactory, SandboxFactory, UserFactory

pytestmark = pytest.mark.django_db

COPY, ORM = "COPY writer", "ORM writer"
THIRTY_DAYS = datetime.timedelta(days=30)
WORK_LIST, ORM_CHUNKS = "SQL work list", "ORM chunks"


@pytest.fixture(autouse=True)
def _on_postgresql(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("The write paths are compared on PostgreSQL (REQUIRE_SERVICES=1).")
        pytest.skip("both write paths run only on PostgreSQL; set DATABASE_URL")


def ecid(n: int) -> str:
    return str(n) * 38 if n < 10 else "%038d" % n


class Steps:
    """Remember when each step started, so a timestamp reads as the step that wrote it (0: before the first)."""

    def __init__(self):
        self.starts = []

    def begin(self) -> None:
        self.starts.append(timezone.now())

    def of(self, moment) -> int | None:
        if moment is None:
            return None
        return max((number for number, start in enumerate(self.starts, start=1) if start <= moment), default=0)


def memberships(audience: Audience, key, steps: Steps) -> dict:
    """Return `{profile key: (status, payload, step qualified, step exited)}` for the audience."""
    rows = AudienceMembership.objects.filter(audience=audience).select_related("profile")
    return {
        key(row.profile): (row.status, row.payload, steps.of(row.qualified_at), steps.of(row.exited_at))
        for row in rows.prefetch_related("profile__identities")
    }


#
# CSV import
#

# The files imported one after the other: the first creates the audience; the second changes one payload, adds a
# member and leaves two out (they exit); the third brings one back; the fourth repeats it (nothing changes).
FILES = [
    "ecid,tier,source\n%s,gold,web\n%s,silver,web\n%s,gold,shop\n%s,bronze,shop\n"
    % (ecid(1), ecid(2), ecid(3), ecid(4)),
    "ecid,tier,source\n%s,gold,web\n%s,gold,web\n%s,silver,app\n" % (ecid(1), ecid(2), ecid(5)),
    "ecid,tier,source\n%s,gold,web\n%s,gold,web\n%s,silver,app\n%s,gold,shop\n" % (ecid(1), ecid(2), ecid(5), ecid(3)),
    "ecid,tier,source\n%s,gold,web\n%s,gold,web\n%s,silver,app\n%s,gold,shop\n" % (ecid(1), ecid(2), ecid(5), ecid(3)),
]


def import_history(writer: str, grant, django_capture_on_commit_callbacks, monkeypatch) -> list:
    """Import FILES with `writer` into a new sandbox's audience, then once more after it expired; return each step."""
    monkeypatch.setattr(run, "WRITERS", {"postgresql": CopyWriter} if writer == COPY else {})
    sandbox = SandboxFactory(name="imports-%s" % writer.split()[0].lower())
    user = UserFactory(username="importer-%s" % writer.split()[0].lower())
    grant(user, sandbox, IMPORT_AUDIENCE, VIEW_SEGMENTS, MANAGE_SEGMENTS)
    # One profile exists before the first file: the import finds it by its identity instead of creating one.
    known = ProfileFactory(sandbox=sandbox)
    namespace = IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    known.identities.create(sandbox=sandbox, namespace=namespace, value=ecid(4), primary=True)
    steps, history, audience = Steps(), [], None
    for number, content in enumerate([*FILES, FILES[0]], start=1):
        if number == len(FILES) + 1:
            # The audience expired: an expired upload cannot be refreshed, and its members stay as they were.
            Audience.objects.filter(pk=audience.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))
        steps.begin()
        upload = ContentFile(content.encode(), name="members.csv")
        options = {"upload": upload, "namespace": namespace, "identity_column": "ecid", "expiration_days": 30}
        with django_capture_on_commit_callbacks(execute=True):
            if audience is None:
                started = audience_import_create(user=user, sandbox=sandbox, name="Upload", **options)
            else:
                started = audience_import_start(user=user, audience=audience, confirm_exits=True, **options)
        done = AudienceImport.objects.select_related("audience").get(pk=started.pk)
        audience = done.audience
        history.append(
            {
                "import": (done.status, done.error, done.rows_valid, done.rows_invalid, done.profiles_created),
                "audience": (
                    audience.status,
                    audience.profile_count,
                    steps.of(audience.expires_at - datetime.timedelta(days=30)),
                ),
                "memberships": memberships(audience, lambda profile: profile.identities.get().value, steps),
                "profiles": Profile.objects.filter(sandbox=sandbox).count(),
            }
        )
    return history


def test_both_import_writers_store_the_same_members_payloads_and_exits(
    grant, django_capture_on_commit_callbacks, monkeypatch
):
    by_copy = import_history(COPY, grant, django_capture_on_commit_callbacks, monkeypatch)
    by_orm = import_history(ORM, grant, django_capture_on_commit_callbacks, monkeypatch)

    assert by_copy == by_orm
    first, second, third, again, expired = by_copy
    assert first["import"] == ("succeeded", "", 4, 0, 3) and first["profiles"] == 4
    assert second["memberships"][ecid(2)] == ("realized", {"tier": "gold", "source": "web"}, 1, None)
    assert second["memberships"][ecid(3)] == ("exited", {"tier": "gold", "source": "shop"}, 1, 2)
    assert second["memberships"][ecid(5)] == ("realized", {"tier": "silver", "source": "app"}, 2, None)
    assert third["memberships"][ecid(3)] == ("realized", {"tier": "gold", "source": "shop"}, 3, None)
    assert third["memberships"][ecid(4)] == ("exited", {"tier": "bronze", "source": "shop"}, 1, 2)
    assert again["memberships"] == third["memberships"] and again["audience"][1] == 4
    assert expired["import"][0] == "failed" and expired["memberships"] == third["memberships"]


#
# Batch evaluation
#

RULE = {
    "all": [
        {"field": "loyalty.tier", "op": "in", "value": ["gold", "platinum"]},
        {"field": "lastPurchase", "op": "within_last_days", "value": 30},
    ]
}


def evaluation_history(path: str, settings, monkeypatch) -> list:
    """Evaluate RULE with `path` over a sandbox whose profiles change between runs; return each run."""
    monkeypatch.setattr(batch, "WORK_LIST_VENDORS", ("postgresql",) if path == WORK_LIST else ())
    # Small chunks, so a run spans several of them.
    settings.AUDIENCE_EVALUATION_CHUNK_SIZE = 3
    sandbox = SandboxFactory(name="evaluation-%s" % path.split()[0].lower())
    ProfileFieldFactory(sandbox=sandbox, path="loyalty.tier")
    ProfileFieldFactory(sandbox=sandbox, path="lastPurchase", field_type="date")
    today = timezone.now().date()
    recent, old = (today - datetime.timedelta(days=3)).isoformat(), (today - datetime.timedelta(days=90)).isoformat()
    profiles = {
        n: ProfileFactory(sandbox=sandbox, attributes={"key": n, "loyalty": {"tier": tier}, "lastPurchase": recent})
        for n, tier in enumerate(["gold", "silver", "platinum", "gold", "bronze", "gold", "gold", "silver", "gold"])
    }
    audience = Audience.objects.create(sandbox=sandbox, name="Recent gold", rule=RULE, status=Audience.Status.PUBLISHED)
    # Between runs: one stops qualifying by its tier, one as its last purchase ages out of the window, one starts
    # qualifying, then the first qualifies again; the last run changes nothing.
    changes = [
        {},
        {0: {"loyalty": {"tier": "silver"}}, 3: {"lastPurchase": old}, 1: {"loyalty": {"tier": "gold"}}},
        {0: {"loyalty": {"tier": "gold"}}},
        {},
    ]
    steps, history = Steps(), []
    for change in changes:
        for n, attributes in change.items():
            profile = profiles[n]
            profile.attributes = {**profile.attributes, **attributes}
            profile.save()
        steps.begin()
        done = audience_evaluate(audience_id=audience.pk)
        audience.refresh_from_db()
        history.append(
            {
                "evaluation": (done.status, done.entered, done.exited, done.processed),
                "profile_count": audience.profile_count,
                "memberships": memberships(audience, lambda profile: profile.attributes["key"], steps),
            }
        )
    return history


def test_both_batch_evaluation_paths_store_the_same_memberships(settings, monkeypatch):
    by_work_list = evaluation_history(WORK_LIST, settings, monkeypatch)
    by_orm = evaluation_history(ORM_CHUNKS, settings, monkeypatch)

    assert by_work_list == by_orm
    first, second, third, unchanged = by_work_list
    assert first["evaluation"] == ("succeeded", 6, 0, 9) and first["profile_count"] == 6
    assert second["memberships"][0] == ("exited", {}, 1, 2)
    assert second["memberships"][3] == ("exited", {}, 1, 2)
    assert second["memberships"][1] == ("realized", {}, 2, None)
    assert second["memberships"][5] == ("existing", {}, 1, None)
    assert third["memberships"][0] == ("realized", {}, 3, None)
    assert unchanged["evaluation"][1:3] == (0, 0) and unchanged["memberships"][0] == ("existing", {}, 3, None)
