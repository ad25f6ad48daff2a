"""
Adobe's own Web SDK, unmodified but for its `edgeDomain`, against this app in Chromium.

The setup fetches `@adobe/alloy@2.32.0` from the npm registry (never committed; 2.33.x drops
`result.destinations`), serves the app with gunicorn over HTTPS with a throwaway self-signed certificate,
and maps `www.site.test` (the customer's page) and `edge.site.test` (this app) to loopback with
Chromium's host resolver rules, because the SDK refuses an IP address or a port in `edgeDomain`.
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.utils.browser import launch_chromium, require_tool

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ALLOY_VERSION = "2.32.0"
ORG_ID = "5A1B2C3D4E5F60718293A4B5@AdobeOrg"
COOKIE = "kndctr_5A1B2C3D4E5F60718293A4B5_AdobeOrg_identity"
MEMBER_ECID = "4" * 38

SEED = """
import json
from django.contrib.auth import get_user_model
from accounts.models import Sandbox
from personalization.audiences.models import Audience, AudienceMembership
from personalization.datastreams.models import Datastream
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField

sandbox = Sandbox.objects.create(name="site", title="Site")
datastream = Datastream.objects.create(
    sandbox=sandbox, name="Site", personalization_destinations=True, allowed_origins=["https://www.site.test"]
)
ecid = IdentityNamespace.objects.create(sandbox=sandbox, code="ECID", name="ECID")
profile = Profile.objects.create(sandbox=sandbox, attributes={"loyalty": {"status": "gold"}})
Identity.objects.create(sandbox=sandbox, namespace=ecid, value="%(ecid)s", profile=profile, primary=True)
gold = Audience.objects.create(sandbox=sandbox, name="Gold", status="published")
AudienceMembership.objects.create(audience=gold, profile=profile)
plain = Destination.objects.create(
    sandbox=sandbox, datastream=datastream, kind="custom_personalization", name="P", alias="personalizationAlias"
)
rich = Destination.objects.create(
    sandbox=sandbox, datastream=datastream, kind="custom_personalization_with_attributes", name="A",
    alias="adServerAlias",
)
field = ProfileField.objects.create(sandbox=sandbox, path="loyalty.status")
AttributeMapping.objects.create(destination=rich, source=field, target="membershipStatus")
AudienceActivation.objects.create(destination=plain, audience=gold)
AudienceActivation.objects.create(destination=rich, audience=gold)
print(json.dumps({"datastream": str(datastream.pk), "gold": str(gold.pk)}))
"""

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Site</title>
<script>
!function(n,o){o.forEach(function(o){n[o]||((n.__alloyNS=n.__alloyNS||[]).push(o),n[o]=function(){var u=arguments;
return new Promise(function(i,l){n[o].q.push([i,l,u])})},n[o].q=[])})}(window,["alloy"]);
</script>
<script src="/alloy.js" async></script>
</head><body><h1>Site</h1>
<script>
alloy("configure", {datastreamId: "%(datastream)s", orgId: "%(org)s", edgeDomain: "edge.site.test"});
alloy("sendEvent", {xdm: {eventType: "web.webpagedetails.pageViews"}})
  .then(function (result) { window.__result = {destinations: result.destinations}; })
  .catch(function (error) { window.__result = {error: String(error)}; });
</script></body></html>
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alloy_bundle() -> Path:
    """Fetch the SDK's standalone bundle from the npm registry once; keep it out of the repository."""
    target = ROOT / "var" / "npm" / ("alloy-%s" % ALLOY_VERSION) / "alloy.js"
    if target.exists():
        return target
    npm = require_tool("npm", "install Node.js and npm to fetch @adobe/alloy")
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [npm, "pack", "@adobe/alloy@%s" % ALLOY_VERSION, "--pack-destination", str(target.parent)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with tarfile.open(target.parent / ("adobe-alloy-%s.tgz" % ALLOY_VERSION)) as archive:
        member = archive.extractfile("package/dist/alloy.js")
        target.write_bytes(member.read())
    return target


def _certificate(directory: Path) -> tuple[Path, Path]:
    require_tool("openssl", "apt-get install -y openssl")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=site.test",
            "-addext", "subjectAltName=DNS:www.site.test,DNS:edge.site.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _wait_for_port(port: int, process=None) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError("the server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("port %d never opened" % port)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The app on https://edge.site.test and a customer page using the Web SDK on https://www.site.test."""
    alloy = _alloy_bundle()
    workdir = tmp_path_factory.mktemp("alloy-site")
    cert, key = _certificate(workdir)
    env = {
        **os.environ,
        "DATABASE_URL": "sqlite:///%s" % (workdir / "edge.sqlite3"),
        "DJANGO_SETTINGS_MODULE": "personalization.settings",
        "DEBUG": "0",
        "SECRET_KEY": "alloy-browser-test-" + "k" * 40,
        "ALLOWED_HOSTS": "edge.site.test",
        "EDGE_ORG_ID": ORG_ID,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    seeded = subprocess.run(
        [python, "-c", "import django; django.setup()\n" + SEED % {"ecid": MEMBER_ECID}],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    ids = json.loads(seeded.stdout.strip().splitlines()[-1])

    edge_port = _free_port()
    edge = subprocess.Popen(
        [
            str(Path(python).parent / "gunicorn"), "personalization.wsgi", "--bind", "127.0.0.1:%d" % edge_port,
            "--certfile", str(cert), "--keyfile", str(key), "--workers", "1", "--log-level", "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )  # fmt: skip

    pages = workdir / "www"
    pages.mkdir()
    (pages / "alloy.js").write_bytes(alloy.read_bytes())
    (pages / "index.html").write_text(PAGE % {"datastream": ids["datastream"], "org": ORG_ID})
    site_port = _free_port()
    server = ThreadingHTTPServer(("127.0.0.1", site_port), partial(SimpleHTTPRequestHandler, directory=str(pages)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    browser = None
    try:
        _wait_for_port(edge_port, edge)
        rules = "MAP www.site.test:443 127.0.0.1:%d, MAP edge.site.test:443 127.0.0.1:%d" % (site_port, edge_port)
        browser = launch_chromium(["--host-resolver-rules=%s" % rules])
        yield {"browser": browser, **ids}
    finally:
        if browser is not None:
            browser.close()
        server.shutdown()
        os.killpg(edge.pid, signal.SIGTERM)
        edge.wait(timeout=10)


def visit(context):
    """Open the customer page and return what `alloy("sendEvent")` resolved with, plus every edge response."""
    page = context.new_page()
    bodies = []
    page.on("response", lambda response: bodies.append(response) if "edge.site.test" in response.url else None)
    page.goto("https://www.site.test/")
    page.wait_for_function("window.__result !== undefined", timeout=15000)
    result = page.evaluate("window.__result")
    texts = [response.text() for response in bodies if response.request.method == "POST"]
    page.close()
    return result, texts


def identity_cookie(context):
    return next((cookie for cookie in context.cookies() if cookie["name"] == COOKIE), None)


def test_the_sdk_resolves_with_a_known_members_audiences(site):
    from personalization.edge.lookup import identity_cookie_value

    context = site["browser"].new_context(ignore_https_errors=True)
    context.add_cookies(
        [{"name": COOKIE, "value": identity_cookie_value(MEMBER_ECID), "domain": ".site.test", "path": "/"}]
    )

    result, _responses = visit(context)

    assert "error" not in result, result
    by_alias = {destination["alias"]: destination for destination in result["destinations"]}
    assert set(by_alias) == {"personalizationAlias", "adServerAlias"}
    assert [segment["id"] for segment in by_alias["personalizationAlias"]["segments"]] == [site["gold"]]
    context.close()


def test_a_first_time_visitor_gets_an_ecid_cookie_and_keeps_the_same_ecid_on_reload(site):
    context = site["browser"].new_context(ignore_https_errors=True)

    first, _responses = visit(context)
    cookie = identity_cookie(context)
    second, _responses = visit(context)

    assert "error" not in first and "error" not in second
    assert first["destinations"] == [] and second["destinations"] == []
    assert cookie is not None, "the SDK stored no identity cookie"
    assert identity_cookie(context)["value"] == cookie["value"]
    page = context.new_page()
    page.goto("https://www.site.test/")
    ecid = page.evaluate("alloy('getIdentity').then(function (r) { return r.identity.ECID; })")
    from personalization.edge.lookup import identity_cookie_value

    assert len(ecid) == 38 and identity_cookie_value(ecid) == cookie["value"]
    context.close()


def test_no_attributes_ever_reach_the_browser(site):
    from personalization.edge.lookup import identity_cookie_value

    context = site["browser"].new_context(ignore_https_errors=True)
    context.add_cookies(
        [{"name": COOKIE, "value": identity_cookie_value(MEMBER_ECID), "domain": ".site.test", "path": "/"}]
    )

    result, responses = visit(context)

    assert responses, "the page made no call to the edge"
    assert all("attributes" not in body for body in responses)
    assert all("attributes" not in destination for destination in result["destinations"])
    context.close()
