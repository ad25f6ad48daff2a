"""Forms of the CSV custom upload wizard: upload, sample data, audience details, review."""

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_IMPORT_AUDIENCES
from personalization.audiences.imports import reading
from personalization.audiences.imports.models import AudienceImport
from personalization.audiences.imports.services import (
    EXPIRATION_DAYS_DEFAULT,
    EXPIRATION_DAYS_MAX,
    EXPIRATION_DAYS_MIN,
    EXTERNAL_ID_PATTERN,
)
from personalization.audiences.models import Audience
from personalization.profiles.models import IdentityNamespace

__all__ = ["AudienceDetailsForm", "ConfirmForm", "CsvUploadForm", "ReviewForm"]


class CsvUploadForm(forms.Form):
    """Take the CSV file and check what can be checked before the import: size, encoding start and header."""

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8 text, comma, semicolon or tab separated, at most 1 GB and 25 columns; the first line names "
            "the columns (no spaces or dashes)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError(
                _('Only CSV files can be imported; "%(name)s" does not end in .csv.'), params={"name": upload.name}
            )
        if upload.size > reading.MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("The file has %(size)d bytes; at most 1 GB (%(limit)d bytes) can be imported. Split it."),
                params={"size": upload.size, "limit": reading.MAX_FILE_BYTES},
            )
        try:
            self.layout = reading.read_layout(upload)
        except reading.FileProblem as problem:
            raise forms.ValidationError(problem.message) from None
        problems = reading.check_header(self.layout.header)
        if problems:
            raise forms.ValidationError(problems)
        try:
            has_rows = bool(reading.read_preview(upload, self.layout, limit=1))
        except reading.FileProblem as problem:
            raise forms.ValidationError(problem.message) from None
        if not has_rows:
            raise forms.ValidationError(
                _(
                    "The file has no data rows under its header; importing it would name no member. Add one row "
                    "per member of the audience."
                )
            )
        return upload


class ConfirmForm(forms.Form):
    """A step that only shows what was gathered (sample data)."""


class ReviewForm(forms.Form):
    """The last step: what will happen, and the confirmation a file that makes most members exit needs."""

    confirm_exits = forms.BooleanField(label=_("Let these members exit"), required=False)

    def __init__(self, *args, estimate=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.estimate = estimate
        if estimate is None or not estimate.members:
            del self.fields["confirm_exits"]
        elif estimate.needs_confirmation:
            self.fields["confirm_exits"].label = _(
                "Yes, let %(exits)d of the audience's %(members)d members exit: this file is its new member list."
            ) % {"exits": estimate.exits, "members": estimate.members}
        else:
            self.fields["confirm_exits"].label = _(
                "If the file leaves out more than half of the members, let them exit anyway."
            )

    def clean(self):
        cleaned = super().clean()
        if self.estimate is not None and self.estimate.needs_confirmation and not cleaned.get("confirm_exits"):
            raise forms.ValidationError(
                _(
                    "This file would make %(exits)d of the audience's %(members)d members exit, more than half. "
                    "Tick the box if that is what you want, or go back and pick the right file, column or namespace."
                )
                % {"exits": self.estimate.exits, "members": self.estimate.members}
            )
        return cleaned


class AudienceDetailsForm(forms.Form):
    """Name the audience and say which column holds the identity, in which namespace, for how long."""

    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    identity_column = forms.ChoiceField(
        label=_("Primary identity column"), help_text=_("The column whose values identify profiles.")
    )
    namespace = forms.ModelChoiceField(
        label=_("Identity namespace"),
        queryset=IdentityNamespace.objects.none(),
        help_text=_("The kind of identity in that column; other columns become payload attributes."),
    )
    expiration_days = forms.IntegerField(
        label=_("Data expiration (days)"),
        initial=EXPIRATION_DAYS_DEFAULT,
        validators=[MinValueValidator(EXPIRATION_DAYS_MIN), MaxValueValidator(EXPIRATION_DAYS_MAX)],
        help_text=_("1 to 90 days. After that the audience is no longer served to destinations."),
    )
    external_id = forms.RegexField(
        label=_("External audience ID"),
        required=False,
        max_length=128,
        regex=r"^%s$" % EXTERNAL_ID_PATTERN.pattern,
        error_messages={
            "invalid": _("Start with a letter, _ or $, then use only letters, digits, _ or $ (e.g. crm_gold_2024).")
        },
        help_text=_("Optional: how another system names this audience."),
    )

    def __init__(self, *args, user, sandbox, columns: list[str], audience=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.sandbox = sandbox
        self.audience = audience
        if audience is not None:
            # A new file for an existing audience: it keeps its name, description and external ID.
            for name in ("name", "description", "external_id"):
                del self.fields[name]
            last = audience.imports.filter(status=AudienceImport.Status.SUCCEEDED).first()
            if last is not None:
                self.initial.setdefault("namespace", last.namespace_id)
                if last.identity_column in columns:
                    self.initial.setdefault("identity_column", last.identity_column)
        self.fields["identity_column"].choices = [(name, name) for name in columns]
        # The namespaces of the sandbox, offered to whoever may import there (the rule the wizard checks).
        namespaces = IdentityNamespace.objects.restrict(user, CAN_IMPORT_AUDIENCES).in_sandbox(sandbox)
        self.fields["namespace"].queryset = namespaces.order_by("code")
        self.fields["namespace"].empty_label = _("Choose a namespace")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Audience.objects.filter(sandbox=self.sandbox, name=name).exists():
            raise forms.ValidationError(_("An audience with this name already exists in this sandbox."))
        return name
