import datetime
import itertools
import json
import os
import uuid

import pytest

from django.utils import timezone

from accounts.services import api_credential_create
from personalization.audiences.models import AudienceMembership
from personalization.destinations.models import Destination
from tests.factories import (
    ActivationFactory,
    AudienceFactory,
    DatastreamFactory,
    DestinationFactory,
    IdentityFactory,
    IdentityNamespaceFactory,
    MappingFactory,
    MembershipFactory,
    ProfileFactory,
    ProfileFieldFactory,
    SandboxFactory,
    UserFactory,
)
from tests.utils.services import missing_service


class Scenario:
    """A sandbox with one datastream, two destinations and a known visitor, as most lookup tests need."""

    def __init__(self, client, grant):
        self.client = client
        self.sandbox = SandboxFactory(name="shop", title="Shop")
        self.datastream = DatastreamFactory(sandbox=self.sandbox, name="Web", allowed_origins=["https://www.shop.test"])
        self.ecid_ns = IdentityNamespaceFactory(sandbox=self.sandbox, code="ECID")
        self.email_ns = IdentityNamespaceFactory(sandbox=self.sandbox, code="Email")
        self.profile = ProfileFactory(
            sandbox=self.sandbox,
            attributes={"homeAddress": {"countryCode": "DE"}, "loyalty": {"status": "gold", "points": 1200}},
        )
        self.ecid = IdentityFactory(profile=self.profile, namespace=self.ecid_ns, value="1" * 38)
        self.email = IdentityFactory(profile=self.profile, namespace=self.email_ns, value="ada@example.com")
        self.audiences_only = DestinationFactory(
            datastream=self.datastream, name="Personalization", alias="personalizationAlias"
        )
        self.with_attributes = DestinationFactory(
            datastream=self.datastream,
            name="Ad server",
            alias="adServerAlias",
            kind=Destination.Kind.WITH_ATTRIBUTES,
        )
        self.country = ProfileFieldFactory(sandbox=self.sandbox, path="homeAddress.countryCode")
        self.status = ProfileFieldFactory(sandbox=self.sandbox, path="loyalty.status")
        self.points = ProfileFieldFactory(sandbox=self.sandbox, path="loyalty.points", field_type="number")
        MappingFactory(destination=self.with_attributes, source=self.country, target="countryCode")
        MappingFactory(destination=self.with_attributes, source=self.status, target="membershipStatus")
        self.gold = AudienceFactory(sandbox=self.sandbox, name="Gold members")
        self.germans = AudienceFactory(sandbox=self.sandbox, name="Germans")
        ActivationFactory(destination=self.audiences_only, audience=self.gold)
        ActivationFactory(destination=self.with_attributes, audience=self.gold)
        ActivationFactory(destination=self.with_attributes, audience=self.germans)
        MembershipFactory(audience=self.gold, profile=self.profile)
        MembershipFactory(audience=self.germans, profile=self.profile, status=AudienceMembership.Status.EXISTING)
        self.admin = UserFactory(username="edge-admin")
        grant(self.admin, self.sandbox, "manage_datastreams", "view_datastreams")
        self._grant = grant
        self._credential_numbers = itertools.count(1)

    # Requests ------------------------------------------------------------------------------------

    def body(self, namespace="ECID", value=None, primary=True, **extra_xdm):
        value = value if value is not None else self.ecid.value
        return {"event": {"xdm": {"identityMap": {namespace: [{"id": value, "primary": primary}]}, **extra_xdm}}}

    def lookup(self, body=None, *, datastream=None, headers=None, content_type="application/json", raw=None, **query):
        datastream = datastream or self.datastream
        params = {"datastreamId": str(datastream.pk), **query}
        url = "/ee/v2/interact?" + "&".join("%s=%s" % item for item in params.items())
        data = raw if raw is not None else json.dumps(body if body is not None else self.body())
        return self.client.post(url, data=data, content_type=content_type, headers=headers or {})

    def payload(self, response):
        assert response.status_code == 200, response.content
        handles = [h for h in response.json()["handle"] if h["type"] == "activation:pull"]
        assert len(handles) == 1
        return handles[0]["payload"]

    def entry(self, response, alias):
        matches = [entry for entry in self.payload(response) if entry["alias"] == alias]
        assert len(matches) == 1, self.payload(response)
        return matches[0]

    # Credentials ---------------------------------------------------------------------------------

    def credential(self, sandbox=None):
        credential, secret = api_credential_create(
            user=self.admin, sandbox=sandbox or self.sandbox, name="server %d" % next(self._credential_numbers)
        )
        return credential, secret

    def token(self, credential, secret):
        response = self.client.post(
            "/oauth/token",
            {"grant_type": "client_credentials", "client_id": credential.client_id, "client_secret": secret},
        )
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    def auth_headers(self, sandbox=None):
        credential, secret = self.credential(sandbox)
        token = self.token(credential, secret)
        return {"Authorization": "Bearer %s" % token, "x-api-key": credential.client_id}

    @staticmethod
    def today(offset_days=0):
        return timezone.now().date() + datetime.timedelta(days=offset_days)


@pytest.fixture
def scenario(db, client, grant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        built = Scenario(client, grant)
    return built


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="session")
def redis_cluster_nodes():
    """A real three-primary Redis Cluster on loopback ports, for the test session (one per xdist worker)."""
    import shutil

    from tests.utils.redis_cluster import RedisClusterProcesses

    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        missing_service("redis-server and redis-cli are needed to start a Redis Cluster")
    nodes = RedisClusterProcesses(3).start()
    yield nodes
    nodes.stop()


def edge_store_on_redis(settings, mirror_size: int, cluster=None):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        missing_service("Redis is not reachable at %s" % REDIS_URL)
    settings.EDGE_LOCAL_CACHE_SIZE = mirror_size
    if cluster is not None:  # the production layout: the cache on REDIS_URL, the edge store on the cluster
        settings.EDGE_REDIS_URL = cluster.url
        settings.EDGE_REDIS_CLUSTER = True
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "test-%s" % uuid.uuid4().hex[:8],
        }
    }
    from personalization.edge.store import store

    return store


@pytest.fixture(params=["mirrored", "not mirrored", "cluster, mirrored", "cluster, not mirrored"])
def redis_store(request, settings):
    """
    The edge store on a real Redis, with and without the per-process mirror, under a key prefix of its own; and
    the same on a three-primary Redis Cluster, where every test must give the single Redis's answers.
    """
    cluster = request.getfixturevalue("redis_cluster_nodes") if request.param.startswith("cluster") else None
    store = edge_store_on_redis(settings, 0 if request.param.endswith("not mirrored") else 1000, cluster)
    yield store
    store.clear()
    store.reset()


@pytest.fixture
def mirrored_store(settings):
    """The edge store on a real Redis with the per-process mirror on."""
    store = edge_store_on_redis(settings, 1000)
    yield store
    store.clear()
    store.reset()


class CutRedis:
    """The edge store on the real Redis through a loopback proxy the test cuts, hangs and restores."""

    def __init__(self, store, proxy):
        self.store = store
        self.proxy = proxy

    def cut(self):
        self.proxy.cut()

    def hang(self):
        self.proxy.hang()

    def restore(self):
        self.proxy.restore()

    def serving_from_redis(self, lookup, timeout=10.0) -> bool:
        """Make lookups until this process serves from Redis again (its breaker closed); False on timeout."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lookup()
            if self.store.breaker.closed:
                return True
            time.sleep(0.02)
        return False


@pytest.fixture(params=["mirrored", "not mirrored"])
def cut_redis(request, settings):
    """The edge store on Redis behind a proxy the test can cut, with and without the per-process mirror."""
    from urllib.parse import urlsplit

    from tests.utils.tcp_proxy import TcpProxy

    real = urlsplit(REDIS_URL)
    proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 6379)
    settings.EDGE_REDIS_PROBE_INTERVAL = 0.02
    store = edge_store_on_redis(settings, 1000 if request.param == "mirrored" else 0)
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://%s%s" % (proxy.url_host, real.path or "/0")}
    }
    yield CutRedis(store, proxy)
    proxy.restore()
    store.clear()
    store.reset()
    proxy.close()
