from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from accounts.forms import ApiCredentialForm
from accounts.middleware import SESSION_KEY
from accounts.models import ApiCredential
from accounts.permissions import (
    CAN_MANAGE_API_CREDENTIALS,
    CAN_VIEW_DATASTREAMS,
    PUBLIC,
    SIGNED_IN,
    SandboxPermissionRequiredMixin,
    sandboxes_visible_to,
)
from accounts.services import api_credential_create, api_credential_revoke


class SignInView(auth_views.LoginView):
    """Sign in; anyone may open it."""

    rule = PUBLIC
    template_name = "accounts/login.html"


class SignOutView(auth_views.LogoutView):
    """Sign out (POST); it only ends a session and shows nothing."""

    rule = PUBLIC


class SandboxSwitchView(LoginRequiredMixin, View):
    """Make another sandbox the current one; only sandboxes where the user holds a permission qualify."""

    rule = SIGNED_IN
    http_method_names = ["post"]

    def post(self, request):
        sandbox = sandboxes_visible_to(request.user).filter(pk=request.POST.get("sandbox")).first()
        if sandbox is None:
            raise Http404("No such sandbox")
        request.session[SESSION_KEY] = sandbox.pk
        target = request.POST.get("next") or "/"
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
            target = "/"
        return redirect(target)


class _CredentialPermissions(SandboxPermissionRequiredMixin):
    rule = CAN_MANAGE_API_CREDENTIALS
    visible_with = CAN_VIEW_DATASTREAMS


class ApiCredentialListView(_CredentialPermissions, ListView):
    """The current sandbox's server-to-server credentials: who may receive attributes from lookups."""

    rule = CAN_VIEW_DATASTREAMS
    current_sandbox_only = True
    queryset = ApiCredential.objects.select_related("created_by")
    template_name = "accounts/apicredential_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_manage"] = CAN_MANAGE_API_CREDENTIALS.allows(self.request.user, self.request.sandbox)
        context["token_url"] = self.request.build_absolute_uri(reverse("oauth-token"))
        return context


class ApiCredentialCreateView(_CredentialPermissions, FormView):
    """Create a credential and show its secret exactly once, in the response to the POST that made it."""

    form_class = ApiCredentialForm
    template_name = "accounts/apicredential_form.html"

    def form_valid(self, form):
        try:
            credential, secret = api_credential_create(
                user=self.request.user, sandbox=self.request.sandbox, **form.cleaned_data
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return self.form_invalid(form)
        response = render(
            self.request,
            "accounts/apicredential_created.html",
            {
                "credential": credential,
                "secret": secret,
                "token_url": self.request.build_absolute_uri(reverse("oauth-token")),
            },
        )
        response["Cache-Control"] = "no-store"
        return response


class ApiCredentialRevokeView(_CredentialPermissions, DetailView):
    """Confirm, then revoke: tokens already handed out stop working on the very next lookup."""

    queryset = ApiCredential.objects.all()
    template_name = "accounts/apicredential_revoke.html"

    def post(self, request, *args, **kwargs):
        credential = self.get_object()
        api_credential_revoke(user=request.user, credential=credential)
        messages.success(request, _("%(name)s was revoked; its tokens no longer work.") % {"name": credential.name})
        return redirect("accounts:apicredential_list")
