"""
The OAuth 2.0 token endpoint (RFC 6749 §4.4, client credentials) over `ApiCredential` and `AccessToken`.

oauthlib runs the protocol (grant checks, error codes, `Cache-Control: no-store`); this module tells it how a
client authenticates (HTTP Basic, `client_secret_basic`, or `client_id` / `client_secret` in the body, never both),
where a token is kept (a digest in `AccessToken`, its info in the edge store) and when a client id is throttled:
too many failed attempts from one address lock that client id for that address (django-axes, as sign-ins are),
so a stranger guessing cannot lock out the server that holds the real secret.
"""

import base64
import binascii
import json
import re
import secrets
from urllib.parse import parse_qsl, unquote_plus, urlencode

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.utils import reset as axes_reset
from oauthlib.oauth2 import BearerToken, ClientCredentialsGrant, RequestValidator, TokenEndpoint
from oauthlib.oauth2.rfc6749 import errors

from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import SuspiciousOperation
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone

from accounts.models import ApiCredential
from personalization.edge.credentials import TOKEN_LIFETIME, access_token_save

__all__ = ["token_response"]

_FORM = "application/x-www-form-urlencoded"
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,64}")  # what ApiCredential.client_id can hold


class _Refused(errors.OAuth2Error):
    """Too many failed attempts: the RFC has no code for it, so the closest one, with 429 and `Retry-After`."""

    error = "invalid_client"
    status_code = 429

    def __init__(self, *, cool_off):
        self.retry_after = max(60, int(cool_off.total_seconds()))
        super().__init__(
            description="Too many failed attempts for this client id from this address; try again in %d minutes."
            % round(self.retry_after / 60)
        )

    @property
    def headers(self):
        return {"Retry-After": str(self.retry_after)}


class _MethodNotAllowed(errors.InvalidRequestError):
    status_code = 405

    @property
    def headers(self):
        return {"Allow": "POST"}


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """Return `(client_id, secret)` from an HTTP Basic `Authorization` header, or None when there is none."""
    scheme, _sep, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise errors.InvalidClientError(
            description="The Basic credentials are not base64 of client_id:secret."
        ) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise errors.InvalidClientError(description="The Basic credentials have no ':' between client id and secret.")
    # RFC 6749 §2.3.1: both halves are form-encoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _sent_credentials(request) -> tuple[str, str]:
    """Return the client id and secret the request authenticates with: Basic or the body, not both."""
    basic = _basic_credentials(request.headers.get("Authorization", ""))
    in_body = request.client_secret is not None
    if basic is None:
        return request.client_id or "", request.client_secret or ""
    if in_body:
        raise errors.InvalidRequestError(
            description="Send the client secret once: in the Authorization header (Basic) or in the body, not both."
        )
    if request.client_id and request.client_id != basic[0]:
        raise errors.InvalidRequestError(description="The body's client_id differs from the Basic credentials'.")
    return basic


class CredentialValidator(RequestValidator):
    """Tell oauthlib how API credentials authenticate and where their tokens are kept."""

    def client_authentication_required(self, request, *args, **kwargs):
        return True

    def authenticate_client(self, request, *args, **kwargs):
        client_id, secret = _sent_credentials(request)
        request.client_id = client_id
        credential = ApiCredential.objects.filter(client_id=client_id).first() if client_id else None
        if credential is None or not credential.matches(secret) or not credential.is_active:
            return False
        request.client = credential
        return True

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return grant_type == "client_credentials"

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        return []

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        # A token reads the credential's sandbox, whatever scope a client library sends (Adobe's IMS clients send
        # several); scopes are accepted and carry no meaning here (docs/decisions.md).
        return True

    def save_bearer_token(self, token, request, *args, **kwargs):
        access_token_save(request.client, token["access_token"], token["expires_in"])


def _expires_in(request) -> int:
    """Seconds a new token lives: the standard lifetime, cut to what is left of the credential's own."""
    lifetime = TOKEN_LIFETIME
    expires_at = request.client.expires_at
    if expires_at is not None:
        lifetime = min(lifetime, int((expires_at - timezone.now()).total_seconds()))
    return max(1, lifetime)


def _only_client_credentials(request):
    if request.grant_type and request.grant_type != "client_credentials":
        raise errors.UnsupportedGrantTypeError(
            description="Only grant_type=client_credentials is supported: exchange an API credential's id and secret."
        )


_endpoint = TokenEndpoint(
    default_grant_type="client_credentials",
    default_token_type=BearerToken(
        CredentialValidator(),
        token_generator=lambda request: "cpct_" + secrets.token_urlsafe(32),
        expires_in=_expires_in,
    ),
    grant_types={
        "client_credentials": ClientCredentialsGrant(CredentialValidator(), pre_token=[_only_client_credentials])
    },
)


def _form_body(request) -> str:
    """
    Return the body as form fields (RFC 6749's encoding); multipart fields and a JSON object of scalars are taken
    too, as this endpoint took them before.
    """
    if request.content_type == "multipart/form-data":
        try:
            return urlencode(list(request.POST.lists()), doseq=True)
        except MultiPartParserError as error:
            raise errors.InvalidRequestError(description="The multipart body cannot be read: %s." % error) from None
    if request.content_type != "application/json":
        return request.body.decode("utf-8")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        raise errors.InvalidRequestError(description="The body is not JSON.") from None
    if not isinstance(data, dict) or any(isinstance(value, dict | list) for value in data.values()):
        raise errors.InvalidRequestError(description="The JSON body must be an object of strings.")
    try:
        return urlencode({key: "" if value is None else str(value) for key, value in data.items()})
    except UnicodeEncodeError:  # a lone surrogate (\ud800) that JSON allows and UTF-8 does not
        raise errors.InvalidRequestError(
            description="The JSON body holds text that is not Unicode (a lone surrogate)."
        ) from None


def _error_response(error: errors.OAuth2Error) -> tuple[dict, str, int]:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}
    headers.update(error.headers)
    return headers, error.json, error.status_code


def _client_id_sent(request, body: str) -> str:
    """Return the client id the request names (Basic first), for throttling; "" when it names none."""
    try:
        basic = _basic_credentials(request.headers.get("Authorization", ""))
    except errors.OAuth2Error:
        basic = None
    if basic is not None:
        return basic[0]
    return dict(parse_qsl(body, keep_blank_values=True)).get("client_id", "")


def _exchange(request) -> tuple[dict, str, int]:
    """Read the body, apply the throttle and let oauthlib answer; raise `OAuth2Error` for what it does not see."""
    if request.method != "POST":
        raise _MethodNotAllowed(description="Use POST.")
    try:
        body = _form_body(request)
    except SuspiciousOperation:  # over DATA_UPLOAD_MAX_MEMORY_SIZE or DATA_UPLOAD_MAX_NUMBER_FIELDS
        raise errors.InvalidRequestError(description="The body is too large or has too many fields.") from None
    except UnicodeDecodeError:
        raise errors.InvalidRequestError(description="The body is not UTF-8 form fields.") from None

    client_id = _client_id_sent(request, body)
    if client_id and not _CLIENT_ID.fullmatch(client_id):
        # No credential has such an id (they are short printable ASCII): refused without a lookup or a count.
        raise errors.InvalidClientError(description="Unknown client id.")
    credentials = {"username": client_id}
    AxesProxyHandler.update_request(request)
    if client_id and AxesProxyHandler.is_locked(request, credentials):
        raise _Refused(cool_off=get_cool_off(request))
    try:
        headers, body, status = _endpoint.create_token_response(
            # With its query string, which oauthlib refuses on a POST (RFC 6749 §3.2: credentials stay out of URLs).
            request.build_absolute_uri(),
            http_method="POST",
            body=body,
            headers={"Authorization": request.headers.get("Authorization", ""), "Content-Type": _FORM},
        )
    except ValueError:  # oauthlib refuses a query string that is not form-encoded before any grant check
        raise errors.InvalidRequestError(description="The query string is not form-encoded.") from None
    if status == 401 and client_id:
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    elif status == 200 and client_id:
        axes_reset(username=client_id, ip=request.axes_ip_address)
    return headers, body, status


def token_response(request) -> tuple[dict, str, int]:
    """Answer `POST /oauth/token`: return `(headers, body, status)` per RFC 6749."""
    try:
        headers, body, status = _exchange(request)
    except errors.OAuth2Error as error:
        headers, body, status = _error_response(error)
    if status == 401 and request.headers.get("Authorization", "").lower().startswith("basic"):
        # RFC 6749 §5.2: challenge a client that authenticated with Basic in the scheme it used.
        headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    return headers, body, status
