"""Bearer tokens for authenticated lookups: issue, verify (store first, database on a miss), revoke."""

import secrets
import time

from django.db import transaction
from django.utils import timezone

from accounts.models import AccessToken, ApiCredential
from personalization.edge.records import TokenInfo
from personalization.edge.store import store

__all__ = ["TOKEN_LIFETIME", "access_token_issue", "access_token_save", "token_info_from_database"]

TOKEN_LIFETIME = 3600


def _info(credential: ApiCredential, expires_at) -> TokenInfo:
    expires = expires_at.timestamp()
    if credential.expires_at is not None:
        expires = min(expires, credential.expires_at.timestamp())
    return TokenInfo(client_id=credential.client_id, sandbox=credential.sandbox_id, expires=expires)


def token_info_from_database(bearer: str) -> TokenInfo | None:
    """Return the token's info from the database and keep it in the edge store, or None when invalid."""
    digest = AccessToken.digest_of(bearer)
    token = (
        AccessToken.objects.select_related("credential")
        .filter(digest=digest, credential__revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    info = _info(token.credential, token.expires_at)
    ttl = int(info.expires - time.time())
    if ttl > 0:
        store.put_token(digest, info, ttl)
    return info


@transaction.atomic
def access_token_save(credential: ApiCredential, plaintext: str, expires_in: int) -> AccessToken:
    """Keep a token issued to `credential` (as a digest) for `expires_in` seconds, and in the edge store on commit."""
    now = timezone.now()
    token = AccessToken.objects.create(
        credential=credential,
        digest=AccessToken.digest_of(plaintext),
        expires_at=now + timezone.timedelta(seconds=expires_in),
    )
    ApiCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
    info = _info(credential, token.expires_at)
    transaction.on_commit(lambda: store.put_token(token.digest, info, max(1, int(info.expires - now.timestamp()))))
    return token


def access_token_issue(*, client_id: str, secret: str, lifetime: int = TOKEN_LIFETIME) -> tuple[str, int] | None:
    """
    Exchange a credential's id and secret for a bearer token without HTTP (benchmarks, the shell); return
    `(token, expires_in)` or None when the credential is unknown, wrong, revoked or expired.
    """
    credential = ApiCredential.objects.filter(client_id=client_id).first()
    if credential is None or not credential.matches(secret) or not credential.is_active:
        return None
    plaintext = "cpct_" + secrets.token_urlsafe(32)
    token = access_token_save(credential, plaintext, lifetime)
    info = _info(credential, token.expires_at)
    return plaintext, max(0, int(info.expires - timezone.now().timestamp()))
