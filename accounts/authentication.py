"""Management API authentication with personal tokens: `Authorization: Token <prefix>.<secret>`."""

from rest_framework import authentication, exceptions

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import PersonalToken


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _sep, plaintext = header.partition(" ")
        if keyword != self.keyword:
            return None

        plaintext = plaintext.strip()
        prefix = plaintext.split(".", 1)[0]
        token = PersonalToken.objects.select_related("user").filter(prefix=prefix).first()
        if token is None or not token.matches(plaintext):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.is_active:
            raise exceptions.AuthenticationFailed(_("This token is revoked or expired; create a new one."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("The token's user is inactive."))
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            PersonalToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # The audit log names the token a change came through (the actor is the token's user).
        request._request.audit_via = "personal token %s" % token.name
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
