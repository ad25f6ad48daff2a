"""
The public Edge Network endpoints: `interact` (v2 server API and v1 Web SDK shapes), `collect`, and the
OAuth2 client-credentials token endpoint for server callers.

These views are deliberately plain Django functions: the hot path skips DRF, sessions and templates.
The datastream id is the public key of a lookup; attributes only leave with a valid bearer token of a
credential from the datastream's sandbox (see `lookup._authenticate`).
"""

import hmac
import json
import logging
import re
import time
import uuid
from urllib.parse import unquote_plus

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.permissions import CAN_READ_METRICS, declare_rule
from personalization.charsets import declared_charset, text_codec
from personalization.edge import metrics
from personalization.edge.errors import EdgeError, problem_response
from personalization.edge.lookup import (
    IDENTITY_COOKIE_MAX_AGE,
    LookupRequest,
    datastream_config,
    identity_cookie_name,
    identity_cookie_value,
    identity_fetch,
    interact,
    new_request_id,
    object_field,
    parse_body,
    streaming_frame,
)
from personalization.edge.oauth import token_response

logger = logging.getLogger(__name__)

__all__ = ["collect_view", "health_view", "interact_view", "metrics_view", "sdk_interact_view", "token_view"]

MAX_BODY_BYTES = 64 * 1024
_UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ACCEPTED_TYPES = {"application/json", "text/plain", "text/javascript", ""}
_QUERY_NAMES = frozenset(("datastreamId", "dataStreamId", "configId", "requestId", "silent"))
_ANSWER = '{"requestId":"%s","handle":[{"type":"activation:pull","eventIndex":0,"payload":%s}%s}'
_CORS_HEADERS = "Content-Type, Authorization, x-api-key, x-gw-ims-org-id, x-request-id, x-sandbox-name"


def _query(request) -> dict:
    """Return the query parameters the edge reads (the last of repeated ones, as `request.GET` would)."""
    query = {}
    for part in request.META.get("QUERY_STRING", "").split("&"):
        name, _sep, value = part.partition("=")
        if name in _QUERY_NAMES:
            query[name] = unquote_plus(value) if "%" in value or "+" in value else value
    return query


def _datastream_id(query: dict) -> str:
    value = query.get("datastreamId") or query.get("dataStreamId") or query.get("configId")
    if not value:
        raise EdgeError("EXEG-0002-400", "The datastreamId query parameter is required.")
    if _UUID_PATTERN.match(value):
        return value.lower()
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise EdgeError(
            "EXEG-0003-400", "%r is not a datastream ID; copy it from the datastream page." % value[:64]
        ) from None


def _read_body(request) -> tuple[bytes, str]:
    """Return the body's bytes and the text encoding its Content-Type declares (UTF-8 unless it says otherwise)."""
    header = request.META.get("CONTENT_TYPE", "")
    content_type = header.partition(";")[0].strip().lower()
    if content_type not in _ACCEPTED_TYPES:
        raise EdgeError(
            "EXEG-0111-415",
            "Content-Type %s is not supported; send application/json or text/plain." % content_type[:64],
        )
    charset = declared_charset(header)
    encoding = "utf-8" if charset is None else _text_encoding(charset)
    try:
        length = max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        raise EdgeError("EXEG-0112-413", "The body is %d bytes; the maximum is %d." % (length, MAX_BODY_BYTES))
    if not length and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # No length to read up to: Django's request stream would give nothing, the server's gives the de-chunked body.
        raw = request.environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
    else:
        # With a declared length, read just that: asking for more makes the server look for more body first.
        raw = request.read(length or MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise EdgeError("EXEG-0112-413", "The body is larger than the maximum of %d bytes." % MAX_BODY_BYTES)
    return raw, encoding


def _text_encoding(charset: str) -> str:
    """Return the codec's name for a declared charset; 415 for one that is not a text encoding we know."""
    codec = text_codec(charset)
    if codec is None:
        raise EdgeError(
            "EXEG-0111-415", "The charset %s is not supported; send UTF-8 (or name a text encoding)." % charset[:40]
        )
    return codec.name


def _bearer(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise EdgeError("EXEG-0500-401", "The Authorization header must read: Bearer <access token>.")
    return token.strip()


def _allow_origin(response, request, origins) -> None:
    origin = request.META.get("HTTP_ORIGIN")
    if origin and origin in origins:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Vary"] = "Origin"


def _preflight(request, datastream_id: str) -> HttpResponse:
    response = HttpResponse(status=204)
    try:
        config = datastream_config(datastream_id)
    except EdgeError:
        return response
    _allow_origin(response, request, config["origins"])
    if response.has_header("Access-Control-Allow-Origin"):
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = _CORS_HEADERS
        response["Access-Control-Max-Age"] = "600"
    return response


def _identity_handle(identities) -> str:
    payload = [{"id": value, "namespace": {"code": namespace}} for namespace, value in identities]
    return json.dumps({"type": "identity:result", "payload": payload})


def _state_handle(ecid: str) -> str:
    """Return the `state:store` handle the Web SDK keeps the visitor's ECID cookie from."""
    entry = {"key": identity_cookie_name(), "value": identity_cookie_value(ecid), "maxAge": IDENTITY_COOKIE_MAX_AGE}
    return json.dumps({"type": "state:store", "payload": [entry]})


def _more_handles(result, *, sdk: bool) -> str:
    """Return the handles after `activation:pull` (identities asked for, the Web SDK's state) and the warnings."""
    handles = []
    if result.identities is not None:
        handles.append(_identity_handle(result.identities))
    if sdk and result.visitor.namespace == "ECID":
        handles.append(_state_handle(result.visitor.value))
    more = "".join("," + handle for handle in handles) + "]"
    if result.warnings:
        more += ',"warnings":' + json.dumps(list(result.warnings))
    return more


def _request_id(request, query: dict) -> str:
    """Return the request's id: the caller's (`?requestId=` or `x-request-id`) with the Edge Network's suffix."""
    return new_request_id(query.get("requestId") or request.META.get("HTTP_X_REQUEST_ID"))


def _interact(request, *, sdk: bool):
    started = time.perf_counter()
    query = _query(request)
    request_id = _request_id(request, query)
    try:
        datastream_id = _datastream_id(query)
        if request.method == "OPTIONS":
            return _preflight(request, datastream_id)
        if request.method != "POST":
            raise EdgeError("EXEG-0405-405", "Use POST to call interact.", headers={"Allow": "POST, OPTIONS"})
        lookup = LookupRequest(
            datastream_id=datastream_id,
            body=parse_body(*_read_body(request)),
            sdk=sdk,
            bearer=_bearer(request),
            api_key=request.META.get("HTTP_X_API_KEY"),
            cookies=request.COOKIES if sdk else {},  # only the Web SDK keeps its identity in a cookie
        )
        lookup.fetch = identity_fetch(lookup.body)
        if sdk:  # what the SDKs' answers read besides the identities, checked before any work
            object_field(lookup.body, "meta", "state")
            frame = streaming_frame(lookup.body)
        result = interact(lookup, rate_limit=settings.EDGE_RATE_LIMIT)
    except EdgeError as error:
        metrics.lookup_finished(started, error.code)
        return problem_response(error, request_id)
    except Exception:
        logger.exception("edge.interact.failed", extra={"request_id": request_id})
        metrics.lookup_finished(started, "EXEG-0001-500")
        return problem_response(EdgeError("EXEG-0001-500", "Something went wrong on our side."), request_id)
    # A request id is made of [A-Za-z0-9._:-] (see `new_request_id`): nothing in it needs JSON escaping.
    body = _ANSWER % (request_id, result.payload, _more_handles(result, sdk=sdk))
    if sdk and frame:  # the Mobile SDK reads its answer as separated records, here one
        body = frame[0] + body + frame[1]
    # Bytes, not str: HttpResponse would otherwise look up the charset and encode on every lookup.
    response = HttpResponse(body.encode(), content_type="application/json")
    _allow_origin(response, request, result.origins)
    metrics.lookup_finished(started, None)
    return response


@csrf_exempt
def interact_view(request, location_hint=None):
    """`POST /ee/v2/interact?datastreamId=…`: the Edge Network Server API lookup."""
    return _interact(request, sdk=False)


@csrf_exempt
def sdk_interact_view(request, location_hint=None):
    """`POST /ee/v1/interact?configId=…`: the shape Adobe's Web SDK (alloy) sends."""
    return _interact(request, sdk=True)


def _collect(request, *, silent_allowed: bool):
    """
    Acknowledge events sent for collection with 202 and the request id (204 with `silent=true`, on v2 only).
    This product answers lookups; it is not a collection pipeline, so the events are checked and not stored.
    """
    query = _query(request)
    request_id = _request_id(request, query)
    if request.method == "OPTIONS":
        return HttpResponse(status=204)
    try:
        if request.method != "POST":
            raise EdgeError("EXEG-0405-405", "Use POST to call collect.", headers={"Allow": "POST, OPTIONS"})
        _datastream_id(query)
        parse_body(*_read_body(request))
    except EdgeError as error:
        return problem_response(error, request_id)
    if silent_allowed and query.get("silent") == "true":
        return HttpResponse(status=204)
    return JsonResponse({"requestId": request_id}, status=202)


@csrf_exempt
def collect_view(request, location_hint=None):
    """`POST /ee/v2/collect?datastreamId=…`: events without an answer (202, or 204 with `silent=true`)."""
    return _collect(request, silent_allowed=True)


@csrf_exempt
def sdk_collect_view(request, location_hint=None):
    """`POST /ee/v1/collect?configId=…`: the Web SDK's beacons (sent on unload; it reads no answer)."""
    return _collect(request, silent_allowed=False)


def health_view(request):
    """`GET /ee/health`: a constant answer through the same stack, for load balancers and as the bench baseline."""
    return HttpResponse(b'{"status":"ok"}', content_type="application/json")


@csrf_exempt
def token_view(request):
    """
    `POST /oauth/token` with `grant_type=client_credentials` and the credential's id and secret (HTTP Basic or
    form fields): the OAuth 2.0 client-credentials exchange for a short-lived bearer token.
    """
    headers, body, status = token_response(request)
    response = HttpResponse(body, status=status, content_type=headers.pop("Content-Type", "application/json"))
    for name, value in headers.items():
        response[name] = value
    return response


def _metrics_token_sent(request) -> bool:
    """Return whether the request carries the configured `METRICS_TOKEN` as a bearer token (a scraper)."""
    expected = settings.METRICS_TOKEN
    scheme, _sep, sent = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip(), expected)


@declare_rule(CAN_READ_METRICS)
def metrics_view(request):
    """
    `GET /metrics`: the edge's counters in the Prometheus text format, for a scraper presenting
    `Authorization: Bearer <METRICS_TOKEN>` or a signed-in user the rule allows (superusers).
    """
    if not (_metrics_token_sent(request) or CAN_READ_METRICS.allows(request.user, None)):
        status = 403 if request.user.is_authenticated else 401
        response = HttpResponse("Metrics need the metrics token or a superuser.\n", status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)
