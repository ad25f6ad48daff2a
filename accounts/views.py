from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from accounts.filtersets import AuditEntryFilterSet
from accounts.forms import ApiCredentialForm, RoleForm, UserCreateForm
from accounts.lockout import locked_usernames
from accounts.middleware import SESSION_KEY
from accounts.models import ApiCredential, Role
from accounts.permissions import (
    CAN_MANAGE_API_CREDENTIALS,
    CAN_MANAGE_ROLES,
    CAN_VIEW_AUDIT_LOG,
    CAN_VIEW_DATASTREAMS,
    PUBLIC,
    SIGNED_IN,
    SandboxPermissionRequiredMixin,
    sandboxes_visible_to,
)
from accounts.selectors import (
    audit_entries,
    effective_permissions,
    managed_sandbox_ids,
    may_administer,
    permission_catalog,
    role_list,
    user_list,
)
from accounts.services import (
    api_credential_create,
    api_credential_revoke,
    role_create,
    role_delete,
    role_update,
    user_create,
    user_set_active,
    user_unlock,
)
from personalization.generic_views import add_service_errors


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


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """Choose a password from an invitation (or reset) link; the link's one-time token is the credential."""

    rule = PUBLIC
    template_name = "accounts/password_set.html"
    success_url = reverse_lazy("accounts:login")
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your password is set. Sign in with it now."))
        return response


#
# Roles (Manage Roles)
#


class _RolePermissions(SandboxPermissionRequiredMixin):
    """Role pages need Manage Roles; a role is changed only by someone administering every sandbox it reaches."""

    rule = CAN_MANAGE_ROLES

    def get_queryset(self):
        return role_list(user=self.request.user)

    def get_object(self, queryset=None):
        role = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if role is None:
            raise Http404("No such role")
        if not may_administer(self.request.user, role):
            raise PermissionDenied
        return role


class RoleListView(_RolePermissions, ListView):
    """Every role reaching a sandbox the user administers, with its permissions, sandboxes and members."""

    template_name = "accounts/role_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        managed = managed_sandbox_ids(self.request.user)
        context["editable"] = {
            role.pk for role in context["object_list"] if {s.pk for s in role.sandboxes.all()} <= managed
        }
        return context


class _RoleFormView(_RolePermissions, FormView):
    form_class = RoleForm
    template_name = "accounts/role_form.html"
    object = None

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.update(manager=self.request.user, instance=self.object)
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        chosen = set(form["permissions"].value() or [])
        context["object"] = self.object
        context["catalog"] = [
            {
                "category": group["category"],
                "permissions": [dict(item, checked=item["codename"] in chosen) for item in group["permissions"]],
            }
            for group in permission_catalog()
        ]
        return context

    def form_valid(self, form):
        try:
            role = self.save(form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message % {"name": role.name})
        return redirect("accounts:role_list")


class RoleCreateView(_RoleFormView):
    """Create a role: pick its permissions by category, its sandboxes and its users."""

    success_message = _("The role %(name)s was created.")

    def save(self, data):
        return role_create(user=self.request.user, **data)


class RoleEditView(_RoleFormView):
    """Change a role; its members get the new permissions on their next request."""

    success_message = _("The role %(name)s was saved; its members get the change on their next request.")

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and self.has_permission():
            self.object = self.get_object()
        return super().dispatch(request, *args, **kwargs)

    def save(self, data):
        return role_update(role=self.object, user=self.request.user, **data)


class RoleDeleteView(_RolePermissions, DetailView):
    """Confirm, then delete a role; refused with a message when it holds a sandbox's last Manage Roles."""

    template_name = "generic/object_delete.html"

    def get_context_data(self, **kwargs):
        role = self.object
        return super().get_context_data(
            list_url=reverse("accounts:role_list"),
            verbose_name=Role._meta.verbose_name,
            verbose_name_plural=Role._meta.verbose_name_plural,
            impact=[
                (_("These users lose its permissions on their next request"), list(role.users.all())),
                (_("In these sandboxes"), [sandbox.title for sandbox in role.sandboxes.all()]),
            ],
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        try:
            role_delete(role=self.object, user=request.user)
        except ValidationError as error:
            return self.render_to_response(self.get_context_data(object=self.object, refusal=error.messages))
        messages.success(request, _("The role %(name)s was deleted.") % {"name": self.object.name})
        return redirect("accounts:role_list")


#
# Users (Manage Roles)
#


class _UserPermissions(SandboxPermissionRequiredMixin):
    """User pages need Manage Roles; users reaching only sandboxes the manager does not administer are 404."""

    rule = CAN_MANAGE_ROLES

    def get_queryset(self):
        return user_list(user=self.request.user)

    def get_object(self, queryset=None):
        target = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if target is None:
            raise Http404("No such user")
        return target


class UserListView(_UserPermissions, ListView):
    """The users of the sandboxes the signed-in manager administers, and those in no role yet."""

    template_name = "accounts/user_list.html"
    paginate_by = 100

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["locked"] = locked_usernames([user.get_username() for user in context["object_list"]])
        return context


class UserCreateView(_UserPermissions, FormView):
    """Create a user with a password, or invite them by email to choose one."""

    form_class = UserCreateForm
    template_name = "accounts/user_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "manager": self.request.user}

    def form_valid(self, form):
        data = {name: form.cleaned_data[name] for name in ("username", "email", "first_name", "last_name", "roles")}
        try:
            new_user = user_create(
                user=self.request.user,
                password=form.cleaned_data["password"],
                invite_url_base=self.request.build_absolute_uri("/"),
                **data,
            )
        except ValidationError as error:
            add_service_errors(form, error)
            return self.form_invalid(form)
        if form.cleaned_data["password"] is None:
            messages.success(
                self.request,
                _("%(name)s was invited: an email with a set-password link went to %(email)s.")
                % {"name": new_user.get_username(), "email": new_user.email},
            )
        else:
            messages.success(self.request, _("%(name)s was created.") % {"name": new_user.get_username()})
        return redirect("accounts:user_detail", pk=new_user.pk)


class UserDetailView(_UserPermissions, DetailView):
    """A user's effective permissions in each sandbox the manager administers, with the role granting each."""

    template_name = "accounts/user_detail.html"
    context_object_name = "member"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        member = self.object
        context["effective"] = effective_permissions(target=member, sandbox_ids=managed_sandbox_ids(self.request.user))
        context["may_change"] = may_administer(self.request.user, member) and member.pk != self.request.user.pk
        context["is_locked"] = bool(locked_usernames([member.get_username()]))
        return context


class UserActiveView(_UserPermissions, DetailView):
    """Deactivate (`active=0`) or reactivate (`active=1`) a user, then return to their page."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        target = self.get_object()
        active = request.POST.get("active") == "1"
        try:
            user_set_active(user=request.user, target=target, active=active)
        except ValidationError as error:
            for text in error.messages:
                messages.error(request, text)
        else:
            if active:
                messages.success(request, _("%(name)s can sign in again.") % {"name": target.get_username()})
            else:
                messages.success(
                    request,
                    _("%(name)s was deactivated: they cannot sign in, and their tokens stop working.")
                    % {"name": target.get_username()},
                )
        return redirect("accounts:user_detail", pk=target.pk)


class UserUnlockView(_UserPermissions, DetailView):
    """Lift a sign-in lockout after too many failed attempts."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        target = self.get_object()
        user_unlock(user=request.user, target=target)
        messages.success(request, _("%(name)s may sign in again.") % {"name": target.get_username()})
        return redirect("accounts:user_detail", pk=target.pk)


#
# Audit log (View Audit Log)
#


class AuditLogView(SandboxPermissionRequiredMixin, ListView):
    """Every configuration change and sign-in event the user may read, newest first, filterable."""

    rule = CAN_VIEW_AUDIT_LOG
    template_name = "accounts/audit_log.html"
    paginate_by = 50
    context_object_name = "entries"

    def get_queryset(self):
        self.filterset = AuditEntryFilterSet(
            self.request.GET or None, queryset=audit_entries(user=self.request.user), request=self.request
        )
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filter_form"] = self.filterset.form
        context["verbose_name_plural"] = _("audit log entries")
        context["is_filtered"] = self.filterset.is_bound and any(self.filterset.form.cleaned_data.values())
        return context
