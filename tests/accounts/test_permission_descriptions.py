"""Each permission's one-line description on the roles page, checked against what the permission opens and refuses."""

import json

import pytest

from django.test import Client

from accounts import constants as c
from accounts.services import role_create
from personalization.destinations.models import Destination
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(sandbox):
    datastream = f.DatastreamFactory(sandbox=sandbox, name="Web")
    destination = f.DestinationFactory(datastream=datastream, kind=Destination.Kind.WITH_ATTRIBUTES)
    identity = f.IdentityFactory(profile__sandbox=sandbox)
    return {
        "sandbox": sandbox,
        "datastream": datastream,
        "destination": destination,
        "audience": f.AudienceFactory(sandbox=sandbox),
        "field": f.ProfileFieldFactory(sandbox=sandbox, path="loyalty.tier"),
        "identity": identity,
    }


_roles = iter(range(10**6))


def _as(shop, *codenames) -> Client:
    user = f.UserFactory(username="describer-%d" % next(_roles))
    role_create(
        name="describer-%d" % next(_roles), permissions=list(codenames), users=[user], sandboxes=[shop["sandbox"]]
    )
    client = Client()
    client.force_login(user)
    return client


def _opens(client, url, method="get", data=None) -> bool:
    if method == "get":
        response = client.get(url)
    else:
        response = getattr(client, method)(url, json.dumps(data or {}), content_type="application/json")
    return response.status_code not in (403, 404)


def _check(shop, granted, urls, *, method="get", data=None):
    """Assert `granted` opens every url, and each one short of a codename opens none."""
    for url in urls:
        assert _opens(_as(shop, *granted), url, method, data), "%s does not open %s" % (granted, url)
        for missing in granted:
            rest = [code for code in granted if code != missing]
            assert not _opens(_as(shop, *rest), url, method, data), "%s opens %s without %s" % (rest, url, missing)


def test_view_destinations_shows_destinations_the_catalog_activations_and_mappings(shop):
    destination = shop["destination"]
    urls = ["/destinations/", "/destinations/catalog/", destination.get_absolute_url()]
    _check(shop, [c.VIEW_DESTINATIONS], [*urls, "/api/v1/activations/", "/api/v1/attribute-mappings/"])
    assert not _opens(_as(shop, c.VIEW_DESTINATIONS), "/destinations/%s/edit/" % destination.pk)


def test_manage_destinations_connects_changes_and_deletes_with_view_destinations(shop):
    destination = shop["destination"]
    _check(
        shop,
        [c.VIEW_DESTINATIONS, c.MANAGE_DESTINATIONS],
        [
            "/destinations/catalog/custom_personalization/connect/",
            "/destinations/%s/edit/" % destination.pk,
            "/destinations/%s/delete/" % destination.pk,
        ],
    )


def test_activate_destinations_activates_and_maps_with_the_three_views(shop):
    views = [c.VIEW_DESTINATIONS, c.VIEW_PROFILES, c.VIEW_SEGMENTS]
    destination = shop["destination"]
    _check(shop, [*views, c.ACTIVATE_DESTINATIONS], ["/destinations/%s/activate/" % destination.pk])
    mapping = {"destination": str(destination.pk), "source": shop["field"].pk, "target": "tier"}
    _check(shop, [*views, c.ACTIVATE_DESTINATIONS], ["/api/v1/attribute-mappings/"], method="post", data=mapping)


def test_activate_without_mapping_activates_but_cannot_add_mapped_attributes(shop):
    views = [c.VIEW_DESTINATIONS, c.VIEW_PROFILES, c.VIEW_SEGMENTS]
    destination = shop["destination"]
    _check(shop, [*views, c.ACTIVATE_SEGMENTS_WITHOUT_MAPPING], ["/destinations/%s/activate/" % destination.pk])
    mapping = {"destination": str(destination.pk), "source": shop["field"].pk, "target": "tier"}
    planner = _as(shop, *views, c.ACTIVATE_SEGMENTS_WITHOUT_MAPPING)
    assert not _opens(planner, "/api/v1/attribute-mappings/", "post", mapping)


def test_view_profiles_shows_profiles_fields_and_namespaces(shop):
    profile = shop["identity"].profile
    urls = ["/profiles/", profile.get_absolute_url(), "/profiles/fields/", shop["field"].get_absolute_url()]
    _check(shop, [c.VIEW_PROFILES], [*urls, "/api/v1/identity-namespaces/"])


def test_manage_profiles_writes_attributes_alone_and_changes_fields_with_view_profiles(shop):
    identity = shop["identity"]
    upsert = "/api/v1/profiles/%s/%s/?sandbox=%s" % (identity.namespace.code, identity.value, shop["sandbox"].name)
    _check(shop, [c.MANAGE_PROFILES], [upsert], method="patch", data={"attributes": {"loyalty": {"tier": "gold"}}})
    _check(shop, [c.VIEW_PROFILES, c.MANAGE_PROFILES], ["/profiles/fields/new/"])


def test_view_segments_shows_audiences_and_their_imports(shop):
    _check(shop, [c.VIEW_SEGMENTS], ["/audiences/", shop["audience"].get_absolute_url(), "/api/v1/audiences/"])


def test_manage_segments_creates_and_changes_audiences_with_view_segments(shop):
    audience = shop["audience"]
    _check(shop, [c.VIEW_SEGMENTS, c.MANAGE_SEGMENTS], ["/audiences/add/", "/audiences/%s/edit/" % audience.pk])


def test_import_audience_imports_a_csv_with_view_and_manage_segments(shop):
    _check(shop, [c.VIEW_SEGMENTS, c.MANAGE_SEGMENTS, c.IMPORT_AUDIENCE], ["/audiences/import/"])


def test_view_datastreams_shows_datastreams_and_api_credentials(shop):
    _check(
        shop, [c.VIEW_DATASTREAMS], ["/datastreams/", shop["datastream"].get_absolute_url(), "/accounts/credentials/"]
    )


def test_manage_datastreams_changes_datastreams_and_credentials_with_view_datastreams(shop):
    _check(
        shop,
        [c.VIEW_DATASTREAMS, c.MANAGE_DATASTREAMS],
        ["/datastreams/new/", "/datastreams/%s/edit/" % shop["datastream"].pk, "/accounts/credentials/new/"],
    )


def test_view_alerts_subscribes_to_a_destinations_alerts_with_view_destinations(shop):
    _check(shop, [c.VIEW_DESTINATIONS, c.VIEW_ALERTS], ["/destinations/%s/alerts/" % shop["destination"].pk])


def test_view_alerts_history_opens_the_alerts_page_and_its_history_with_view_alerts(shop):
    _check(shop, [c.VIEW_ALERTS, c.VIEW_ALERTS_HISTORY], ["/alerts/", "/alerts/history/"])


def test_manage_alerts_opens_the_alerts_page_with_view_alerts(shop):
    _check(shop, [c.VIEW_ALERTS, c.MANAGE_ALERTS], ["/alerts/"])


def test_resolve_alerts_opens_the_alerts_page_with_view_alerts(shop):
    _check(shop, [c.VIEW_ALERTS, c.RESOLVE_ALERTS], ["/alerts/"])


def test_view_data_usage_policies_opens_the_governance_pages_and_their_api(shop):
    _check(
        shop,
        [c.VIEW_POLICIES],
        ["/governance/", "/governance/labels/", "/governance/marketing-actions/", "/api/v1/policies/"],
    )


def test_manage_data_usage_policies_writes_policies_with_view_data_usage_policies(shop):
    _check(shop, [c.VIEW_POLICIES, c.MANAGE_POLICIES], ["/governance/policies/new/", "/governance/labels/new/"])


def test_apply_data_usage_labels_labels_fields_with_view_profiles(shop):
    _check(
        shop,
        [c.VIEW_PROFILES, c.APPLY_LABELS],
        ["/governance/fields/", "/governance/fields/%d/" % shop["field"].pk],
    )


def test_manage_roles_opens_roles_and_users(shop):
    _check(
        shop, [c.MANAGE_ROLES], ["/accounts/roles/", "/accounts/roles/new/", "/accounts/users/", "/accounts/users/new/"]
    )


def test_view_audit_log_opens_the_audit_log(shop):
    _check(shop, [c.VIEW_AUDIT_LOG], ["/accounts/audit/", "/api/v1/audit-log/"])


def test_every_permission_has_a_description_and_a_category():
    categorised = [code for _category, codes in c.PERMISSION_CATEGORIES for code in codes]

    assert sorted(categorised) == sorted(c.SANDBOX_PERMISSION_CODENAMES)
    assert set(c.PERMISSION_DESCRIPTIONS) == c.SANDBOX_PERMISSION_CODENAMES
