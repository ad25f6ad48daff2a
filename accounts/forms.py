from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.constants import SANDBOX_PERMISSIONS
from accounts.models import Role, Sandbox
from accounts.selectors import managed_sandbox_ids, roles_administered_by, user_list


class ApiCredentialForm(forms.Form):
    """What a user chooses when creating a server-to-server credential; the id and secret are generated."""

    name = forms.CharField(
        label=_("Name"), max_length=200, help_text=_("Who uses it, e.g. the ad server or the CMS backend.")
    )
    expires_at = forms.DateTimeField(
        label=_("Expires at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for a credential that lives until it is revoked."),
    )

    def clean_expires_at(self):
        value = self.cleaned_data["expires_at"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("Pick a moment in the future."), code="expiry_in_past")
        return value


class PermissionsField(forms.MultipleChoiceField):
    """The sandbox permissions as checkboxes; the template groups them by the product's categories."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=SANDBOX_PERMISSIONS, **kwargs)


class RoleForm(forms.ModelForm):
    """
    A role's name, permissions, members and sandboxes; the model validates it (unique name, known codenames).

    Members and sandboxes offer only what the signed-in manager administers.
    """

    permissions = PermissionsField(label=_("Permissions"), required=False)

    class Meta:
        model = Role
        fields = ["name", "description", "permissions", "sandboxes", "users"]
        labels = {"users": _("Users"), "sandboxes": _("Sandboxes")}
        help_texts = {
            "sandboxes": _("The role's permissions apply in each sandbox chosen here, and nowhere else."),
            "users": _("Changes take effect on each user's next page or API call."),
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "sandboxes": forms.CheckboxSelectMultiple,
            "users": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, manager, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sandboxes"].queryset = Sandbox.objects.filter(pk__in=managed_sandbox_ids(manager)).order_by(
            "-kind", "name"
        )
        self.fields["sandboxes"].required = True
        self.fields["users"].queryset = user_list(user=manager).filter(is_active=True)
        self.fields["users"].label_from_instance = lambda user: user.get_username()


class UserCreateForm(forms.ModelForm):
    """
    A new user: either a password set now, or an invitation by email to choose one.

    Django's password validators check the password; the model checks the username.
    """

    INVITE = "invite"
    PASSWORD = "password"  # noqa: S105 (a choice value, not a secret)

    how = forms.ChoiceField(
        label=_("How will they sign in?"),
        choices=((INVITE, _("Email them an invitation to choose a password")), (PASSWORD, _("Set a password now"))),
        initial=INVITE,
        widget=forms.RadioSelect,
    )
    password1 = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    roles = forms.ModelMultipleChoiceField(
        label=_("Roles"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = get_user_model()
        fields = ["username", "email", "first_name", "last_name"]

    def __init__(self, *args, manager, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].queryset = roles_administered_by(manager)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("how") == self.INVITE:
            if not cleaned.get("email"):
                self.add_error("email", _("An invitation needs an email address."))
            cleaned["password"] = None
        elif cleaned.get("how") == self.PASSWORD:
            password = cleaned.get("password1")
            if not password:
                self.add_error("password1", _("Type a password, or send an invitation instead."))
            elif password != cleaned.get("password2"):
                self.add_error("password2", _("The two passwords differ."))
            else:
                self.instance.username = cleaned.get("username", "")
                self.instance.email = cleaned.get("email", "")
                try:
                    password_validation.validate_password(password, self.instance)
                except forms.ValidationError as error:
                    self.add_error("password1", error)
            cleaned["password"] = password
        return cleaned
