"""
The permission matrix: every UI page and API action, against the rule it declares.

For each URL pattern (the Django admin excepted, see docs/decisions.md) and each action it serves, the rule is
read through `declared_rules()`; then:
- an anonymous visitor is sent to the login page (UI) or refused with 401/403 (API);
- a signed-in user without any role is refused (403) or sees nothing (404);
- a user whose role holds exactly the rule in sandbox A gets through on A's objects and 404 on sandbox B's;
- a user missing any one codename of the rule is refused with 403.
Objects come from `build_world()`: one of each kind in each sandbox; `OBJECT_FOR` maps URL arguments to them.
"""

import json
import re
from dataclasses import dataclass

import pytest

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse

from accounts import constants as perms
from accounts.models import ApiCredential, AuditEntry, PersonalToken, Role, Sandbox
from accounts.permissions import PUBLIC, SIGNED_IN, Rule, declared_rules
from accounts.services import personal_token_create, role_create
from personalization import generic_views as generic
from personalization.alerts.models import AlertEvent, WebhookEndpoint
from personalization.audiences.models import Audience
from personalization.datastreams.models import Datastream
from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination
from personalization.edge.models import DataflowRun
from personalization.governance.models import Label, MarketingAction, Policy
from personalization.profiles.models import IdentityNamespace, Profile, ProfileField
from tests import factories as f

pytestmark = pytest.mark.django_db

# Looked up by app label: the audiences app moves its modules around, the model keeps its name.
AudienceImport = apps.get_model("audiences", "AudienceImport")
ADMIN_PREFIX = "admin/"
METHOD_OF_ACTION = {
    "list": "get",
    "retrieve": "get",
    "create": "post",
    "update": "put",
    "partial_update": "patch",
    "destroy": "delete",
}


@dataclass(frozen=True)
class Case:
    route: str  # the pattern, e.g. "datastreams/<uuid:pk>/edit/"
    name: str  # the URL name, e.g. "datastreams:datastream_edit"
    action: str  # "view" for a page, the DRF action for an API route
    method: str
    rule: Rule
    model: type | None  # whose object the URL arguments name (None: no object)
    kwarg_names: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        # Machine endpoints (the API, the metrics scrapers read) answer 401/403, never a sign-in page.
        return self.route.lstrip("^").startswith(("api/", "metrics"))

    def __str__(self):
        return "%s %s [%s]" % (self.method.upper(), self.route, self.action)


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace])) if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), ":".join(filter(None, [namespace, pattern.name or ""])), pattern


def _model_of(callback):
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    for source in (getattr(view_class, "queryset", None), getattr(view_class, "model", None)):
        model = getattr(source, "model", source)
        if isinstance(model, type):
            return model
    return None


# Pages whose view does not name its model: which object their URL arguments point at.
OBJECT_FOR = {
    "accounts:apicredential_revoke": ApiCredential,
    "accounts:role_edit": Role,
    "accounts:role_delete": Role,
    "accounts:user_detail": "user",
    "accounts:user_active": "user",
    "accounts:user_unlock": "user",
    "edge:demo": Datastream,
    "destinations:destination_activate": Destination,
    "destinations:destination_enabled": Destination,
    "destinations:destination_alerts": Destination,
    "audiences:audience_estimate_for": Audience,
    "audiences:audience_publish": Audience,
    "audiences:audience_inactivate": Audience,
    "audiences:audience_import_into": "upload audience",
    "audiences:audience_import_confirm_exits": AudienceImport,
    "audiences:audience_import_detail": AudienceImport,
    "audiences:audience_import_progress": AudienceImport,
    "audiences:audience_import_errors": AudienceImport,
    "api:profile-upsert": Profile,
    "alerts:subscription_save": Destination,
    "alerts:recipients_save": Destination,
    "alerts:alert_resolve": AlertEvent,
    "alerts:webhookendpoint_detail": WebhookEndpoint,
    "runs:destination_runs": Destination,
    "alerts:webhookendpoint_test": WebhookEndpoint,
    "alerts:webhookendpoint_delete": WebhookEndpoint,
    "governance:policy_status": Policy,
    "governance:field_labels_edit": ProfileField,
    "api:field-labels-detail": ProfileField,
}
# URL arguments that are not an object's key.
FIXED_KWARGS = {"kind": Destination.Kind.CUSTOM_PERSONALIZATION, "location_hint": "or2"}
# Endpoints that take the sandbox by name in the query and answer an unseen one like an unknown one (400).
SANDBOX_IN_QUERY = {"api:profile-upsert": 400}
# The API's catch-all answers every path it does not know with 404, to anyone signed in.
NOT_FOUND_BY_DESIGN = {"^api/"}
# A user's own objects: the holder checked on sandbox A is the objects' owner.
OWN_OBJECTS = {"api:token-detail"}


def collect_cases(patterns) -> list[Case]:
    """Return a case per (URL pattern, action); raise `ImproperlyConfigured` for a view that declares no rule."""
    cases = []
    for route, name, pattern in _walk(patterns):
        if route.startswith(ADMIN_PREFIX) or "(?P<format>" in route or "<drf_format_suffix" in route:
            continue
        rules = declared_rules(pattern.callback)  # raises for an undeclared view: the suite fails loudly
        kwarg_names = tuple(_kwarg_names(route))
        model = OBJECT_FOR.get(name) or (_model_of(pattern.callback) if kwarg_names else None)
        actions = getattr(pattern.callback, "actions", None)
        if actions:
            for method, action in actions.items():
                cases.append(Case(route, name, action, method, rules[action], model, kwarg_names))
        else:
            view_class = getattr(pattern.callback, "view_class", None)
            allowed = getattr(view_class, "http_method_names", ["get"])
            method = "get" if "get" in allowed and hasattr(view_class or pattern.callback, "get") else "post"
            cases.append(Case(route, name, "view", method, rules["view"], model, kwarg_names))
    return cases


def _kwarg_names(route: str) -> list[str]:
    return [a or b for a, b in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)]


CASES = collect_cases(get_resolver().url_patterns)


#
# The world: one object of each kind in sandbox A and in sandbox B.
#


def build_world(sandbox: Sandbox) -> dict:
    datastream = f.DatastreamFactory(sandbox=sandbox)
    destination = f.DestinationFactory(datastream=datastream, kind=Destination.Kind.WITH_ATTRIBUTES)
    audience = f.AudienceFactory(sandbox=sandbox)
    namespace = f.IdentityNamespaceFactory(sandbox=sandbox, code="ECID")
    identity = f.IdentityFactory(profile__sandbox=sandbox, namespace=namespace)
    upload_audience = f.AudienceFactory(sandbox=sandbox, origin=Audience.Origin.CUSTOM_UPLOAD)
    member = f.UserFactory(username="member-of-%s" % sandbox.name)
    credential = ApiCredential.objects.create(
        sandbox=sandbox, name="cms", client_id="cpc_%s" % sandbox.name, secret_digest="0" * 64
    )
    return {
        Datastream: datastream,
        Destination: destination,
        Audience: audience,
        IdentityNamespace: namespace,
        Profile: identity.profile,
        ProfileField: f.ProfileFieldFactory(sandbox=sandbox),
        AudienceActivation: f.ActivationFactory(destination=destination, audience=audience),
        AttributeMapping: f.MappingFactory(destination=destination),
        DataflowRun: f.DataflowRunFactory(destination=destination),
        AlertEvent: f.AlertEventFactory(run__destination=destination),
        # Nothing listens there: a test message is refused at once.
        WebhookEndpoint: f.WebhookEndpointFactory(sandbox=sandbox, url="http://127.0.0.1:9/hooks"),
        AudienceImport: AudienceImport.objects.create(
            audience=upload_audience,
            namespace=namespace,
            identity_column="ecid",
            file_name="a.csv",
            file_path="imports/a.csv",
            error_report_path="imports/a-errors.csv",
        ),
        ApiCredential: credential,
        # Every sandbox has the core catalogue; the custom ones are what may be deleted.
        Label: f.LabelFactory(sandbox=sandbox, code="PARTNER", category="custom"),
        MarketingAction: f.MarketingActionFactory(sandbox=sandbox, key="partner-sharing"),
        Policy: f.PolicyFactory(
            marketing_action=MarketingAction.objects.get(sandbox=sandbox, key="export-to-third-party"),
            name="No partner data to third parties",
            deny={"label": "C2"},
        ),
        Role: role_create(name="role-of-%s" % sandbox.name, permissions=[], users=[member], sandboxes=[sandbox]),
        "user": member,
        PersonalToken: personal_token_create(user=member, name="script")[0],
        Sandbox: sandbox,
        "identity": identity,
        "upload audience": upload_audience,
    }


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "a-errors.csv").write_text("row,error\n")
    a = f.SandboxFactory(name="sandbox-a", title="Sandbox A", kind=Sandbox.Kind.PRODUCTION)
    b = f.SandboxFactory(name="sandbox-b", title="Sandbox B")
    worlds = {"A": build_world(a), "B": build_world(b), "sandbox_a": a, "sandbox_b": b}
    for key, sandbox in (("A", a), ("B", b)):
        worlds[key][AuditEntry] = AuditEntry.objects.filter(sandbox=sandbox).first()
    return worlds


def _url(case: Case, objects: dict | None) -> str:
    route = case.route
    for name in case.kwarg_names:
        if name in FIXED_KWARGS:
            value = FIXED_KWARGS[name]
        elif case.name == "api:profile-upsert":
            identity = objects["identity"]
            value = {"namespace": identity.namespace.code, "identity": identity.value}[name]
        elif case.name == "accounts:password_set":
            value = {"uidb64": "MQ", "token": "set-password"}[name]
        else:
            if case.model is None:
                raise AssertionError("%s takes <%s> but names no model: add it to OBJECT_FOR" % (case.route, name))
            value = objects[case.model].pk
        route = re.sub(r"<(?:\w+:)?%s>|\(\?P<%s>[^)]*\)" % (name, name), str(value), route, count=1)
    route = route.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\.", ".").replace("/?", "/")
    url = "/" + route
    if case.name in SANDBOX_IN_QUERY:
        url += "?sandbox=%s" % objects[Sandbox].name
    return url


def _request(client: Client, case: Case, url: str, world):
    data = {}
    if case.name == "accounts:switch_sandbox":
        data = {"sandbox": world["sandbox_a"].pk}
    if case.is_api and case.method in ("post", "put", "patch"):
        return getattr(client, case.method)(url, json.dumps(data), content_type="application/json")
    return getattr(client, case.method)(url, data)


_counter = iter(range(10**6))


def _client_with(codenames, sandbox) -> Client:
    user = f.UserFactory(username="matrix-%d" % next(_counter))
    if codenames:
        role_create(
            name="matrix-role-%d" % next(_counter), permissions=sorted(codenames), users=[user], sandboxes=[sandbox]
        )
    client = Client()
    client.force_login(user)
    return client


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and "/accounts/login/?next=" in response["Location"]


def _refusal_ok(case: Case, short, status: int) -> bool:
    """403; or 404 on an object page when the missing codename is a view one (the object is then invisible)."""
    missing_view = case.model is not None and any(
        code.startswith("view_") and code not in short for code in case.rule.minimal_grants()[0]
    )
    return status == 403 or (status == 404 and missing_view)


# Rules that need no sandbox permission are checked with a user holding something somewhere, as real users do.
SOME_PERMISSION = frozenset({perms.VIEW_PROFILES})
MATRIX = [
    pytest.param(case, index, id="%s%s" % (case, " alt%d" % index if index else ""))
    for case in CASES
    for index, _grant in enumerate(case.rule.minimal_grants())
]


@pytest.mark.parametrize(("case", "alternative"), MATRIX)
def test_the_matrix(case: Case, alternative: int, world):
    rule = case.rule
    a_url = _url(case, world["A"])
    b_url = _url(case, world["B"])
    grant = rule.minimal_grants()[alternative] if rule.is_sandboxed else SOME_PERMISSION

    if alternative == 0:
        _check_refusals(case, a_url, world)

    if rule.superuser_only:
        # Operations across every sandbox: no role grants them, only a superuser holds them.
        assert _request(_client_with(SOME_PERMISSION, world["sandbox_a"]), case, a_url, world).status_code == 403
        superuser = Client()
        superuser.force_login(get_user_model().objects.create_superuser("matrix-superuser", "root@example.com", "x"))
        assert _request(superuser, case, a_url, world).status_code not in (401, 403, 404), "%s for a superuser" % case
        return

    if case.name in OWN_OBJECTS:
        holder = Client()
        holder.force_login(world["A"]["user"])
    else:
        holder = _client_with(grant, world["sandbox_a"])
    if rule.public:
        return
    # sandbox B's object is invisible
    if rule.is_sandboxed and (case.model is not None or case.name in SANDBOX_IN_QUERY):
        other = _request(holder, case, b_url, world)
        expected = SANDBOX_IN_QUERY.get(case.name, 404)
        assert other.status_code == expected, "%s on sandbox B's object answered %d" % (case, other.status_code)
    # sandbox A's object (or A as the current sandbox): allowed
    allowed = _request(holder, case, a_url, world)
    if case.route in NOT_FOUND_BY_DESIGN:
        assert allowed.status_code == 404
        return
    assert allowed.status_code not in (401, 403, 404), "%s with %s answered %d" % (
        case,
        sorted(grant),
        allowed.status_code,
    )
    assert not _is_login_redirect(allowed)


def _check_refusals(case: Case, a_url: str, world) -> None:
    rule = case.rule
    anonymous = _request(Client(), case, a_url, world)
    if rule.public:
        assert not _is_login_redirect(anonymous) and anonymous.status_code not in (401, 403), "%s is public" % case
        return
    if case.is_api:
        assert anonymous.status_code in (401, 403), "%s answered %d to anonymous" % (case, anonymous.status_code)
    else:
        assert _is_login_redirect(anonymous), "%s answered %d to an anonymous visitor" % (case, anonymous.status_code)
    if not rule.is_sandboxed:
        return
    nobody = _request(_client_with((), world["sandbox_a"]), case, a_url, world)
    assert nobody.status_code in (403, 404), "%s let a user without a role in (%d)" % (case, nobody.status_code)
    for short in rule.grants_missing_one():
        refused = _request(_client_with(short, world["sandbox_a"]), case, a_url, world)
        assert _refusal_ok(case, short, refused.status_code), "%s with only %s answered %d, not 403" % (
            case,
            sorted(short),
            refused.status_code,
        )


#
# Buttons: a page shows links to write pages only to users who may use them.
#


def _generic_pages():
    pages = []
    for route, name, pattern in _walk(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "view_class", None)
        if view_class and issubclass(view_class, generic.ObjectListView | generic.ObjectDetailView):
            if view_class.actions and view_class.manage_rule is not None:
                pages.append(pytest.param(route, name, view_class, id=name))
    return pages


@pytest.mark.parametrize(("route", "name", "view_class"), _generic_pages())
def test_write_buttons_show_only_with_the_manage_rule(route, name, view_class, world):
    case = Case(route, name, "view", "get", view_class.view_rule, view_class.queryset.model, tuple(_kwarg_names(route)))
    url = _url(case, world["A"])
    namespace = name.split(":")[0]
    model_name = view_class.queryset.model._meta.model_name
    obj = world["A"].get(view_class.queryset.model)
    write_urls = [
        reverse("%s:%s_%s" % (namespace, model_name, action), args=[obj.pk] if action != "create" else None)
        for action in view_class.actions
    ]
    viewer_grant = view_class.view_rule.minimal_grants()[0]
    manager_grant = viewer_grant | view_class.manage_rule.minimal_grants()[0]

    viewer_page = _client_with(viewer_grant, world["sandbox_a"]).get(url).content.decode()
    manager_page = _client_with(manager_grant, world["sandbox_a"]).get(url).content.decode()

    for write_url in write_urls:
        assert 'href="%s"' % write_url not in viewer_page, "%s shows %s to a viewer" % (url, write_url)
        assert 'href="%s"' % write_url in manager_page, "%s hides %s from a manager" % (url, write_url)


#
# Failing loudly, and the Rule helpers.
#


def _undeclared(request):
    return None


def test_a_view_without_a_declared_rule_fails_the_matrix_loudly():
    with pytest.raises(ImproperlyConfigured, match="_undeclared declares no permission rule"):
        collect_cases([path("forgotten/", _undeclared, name="forgotten")])


def test_the_matrix_covers_every_page_and_api_endpoint():
    names = {case.name for case in CASES}

    assert {"datastreams:datastream_edit", "accounts:role_list", "accounts:audit_log", "api:audit-entry-list"} <= names
    assert {"api:datastream-detail", "api:profile-upsert", "edge-interact"} <= names
    assert not any(case.route.startswith(ADMIN_PREFIX) for case in CASES)


def test_a_rule_is_satisfied_by_all_of_its_codenames_and_one_of_its_alternatives():
    rule = Rule("t", all_of=(perms.VIEW_DESTINATIONS,), any_of=(perms.ACTIVATE_DESTINATIONS, perms.MANAGE_DESTINATIONS))

    assert rule.satisfied_by({perms.VIEW_DESTINATIONS, perms.MANAGE_DESTINATIONS})
    assert not rule.satisfied_by({perms.VIEW_DESTINATIONS})
    assert not rule.satisfied_by({perms.ACTIVATE_DESTINATIONS})
    assert rule.minimal_grants() == [
        frozenset({perms.VIEW_DESTINATIONS, perms.ACTIVATE_DESTINATIONS}),
        frozenset({perms.VIEW_DESTINATIONS, perms.MANAGE_DESTINATIONS}),
    ]
    assert sorted(map(sorted, rule.grants_missing_one())) == [
        [perms.ACTIVATE_DESTINATIONS],
        [perms.VIEW_DESTINATIONS],
    ]


def test_an_unknown_codename_cannot_make_a_rule():
    with pytest.raises(ValueError, match="Unknown sandbox permission 'launch'"):
        Rule("t", all_of=("launch",))


def test_public_and_signed_in_rules_ask_for_no_sandbox_permission(user, sandbox):
    assert PUBLIC.allows(AnonymousUser(), None)
    assert not SIGNED_IN.allows(AnonymousUser(), sandbox)
    assert SIGNED_IN.allows(user, sandbox)
    assert not SIGNED_IN.is_sandboxed
    assert Rule("t", all_of=(perms.VIEW_PROFILES,)).allows(user, sandbox) is False


def test_personal_tokens_list_only_their_owners_tokens(world):
    owner = world["A"]["user"]
    token, _plaintext = personal_token_create(user=owner, name="mine")
    stranger = Client()
    stranger.force_login(world["B"]["user"])

    assert stranger.get("/api/v1/tokens/%d/" % token.pk).status_code == 404
    assert token.pk not in [row["id"] for row in stranger.get("/api/v1/tokens/").json()["results"]]
