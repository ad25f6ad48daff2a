"""
The CSV custom upload wizard: Upload → Sample data → Audience details → Review → Finish.

It creates a custom upload audience from a file, or, opened from an existing one, imports a new file into it (its
new member list). The review step then says how many members the file makes exit, and asks for a confirmation
when that is more than half of them.
"""

import os

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import FileSystemStorage
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.permissions import CAN_IMPORT_AUDIENCES, CAN_VIEW_SEGMENTS, restrict
from personalization.audiences.imports import reading
from personalization.audiences.imports.forms import AudienceDetailsForm, ConfirmForm, CsvUploadForm, ReviewForm
from personalization.audiences.imports.models import UPLOAD_DIR
from personalization.audiences.imports.review import estimate_exits
from personalization.audiences.imports.services import audience_import_create, audience_import_start
from personalization.audiences.models import Audience
from personalization.wizards import BrowserWizardView

__all__ = ["AudienceCsvImportWizard"]


class AudienceCsvImportWizard(BrowserWizardView):
    """Import an audience from a CSV file into the current sandbox (the shared browser wizard)."""

    template_folder = "audiences/wizard"
    wizard_name = "import"
    rule = CAN_IMPORT_AUDIENCES
    title = _("Import audience")
    form_list = [
        ("upload", CsvUploadForm),
        ("preview", ConfirmForm),
        ("details", AudienceDetailsForm),
        ("review", ReviewForm),
    ]
    step_titles = {
        "upload": _("Upload"),
        "preview": _("Sample data"),
        "details": _("Audience details"),
        "review": _("Review"),
    }

    @property
    def file_storage(self):
        # Uploads wait here between steps; the import copies the file to its own place on Finish.
        return FileSystemStorage(location=os.path.join(settings.MEDIA_ROOT, UPLOAD_DIR, "incoming"))

    def check_access(self, request, *args, **kwargs) -> None:
        self.audience = None
        self.sandbox = request.sandbox
        if "pk" in kwargs:
            visible = restrict(Audience.objects.select_related("sandbox"), request.user, CAN_VIEW_SEGMENTS)
            self.audience = get_object_or_404(visible, pk=kwargs["pk"], origin=Audience.Origin.CUSTOM_UPLOAD)
            self.sandbox = self.audience.sandbox
        if not self.rule.allows(request.user, self.sandbox):
            raise PermissionDenied

    def _upload(self):
        """Return the stored upload form's cleaned data (`file`) and layout, or (None, None)."""
        if not hasattr(self, "_upload_cache"):
            form = self.get_form(
                step="upload",
                data=self.storage.get_step_data("upload"),
                files=self.storage.get_step_files("upload"),
            )
            self._upload_cache = (form.cleaned_data["file"], form.layout) if form.is_valid() else (None, None)
        return self._upload_cache

    def get_form_kwargs(self, step=None):
        if step == "details":
            _file, layout = self._upload()
            return {
                "user": self.request.user,
                "sandbox": self.sandbox,
                "columns": layout.header if layout else [],
                "audience": self.audience,
            }
        if step == "review":
            return {"estimate": self._exit_estimate()}
        return {}

    def _exit_estimate(self):
        """Return how many of the audience's members the file makes exit (None for a new audience)."""
        if self.audience is None:
            return None
        if not hasattr(self, "_estimate_cache"):
            upload, layout = self._upload()
            details = self.get_cleaned_data_for_step("details")
            self._estimate_cache = None
            if upload is not None and details:
                self._estimate_cache = estimate_exits(
                    audience=self.audience,
                    source=upload,
                    size=upload.size,
                    layout=layout,
                    identity_column=details["identity_column"],
                    namespace=details["namespace"],
                )
        return self._estimate_cache

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        cancel_url = self.audience.get_absolute_url() if self.audience else reverse("audiences:audience_list")
        context.update(sandbox=self.sandbox, audience=self.audience, cancel_url=cancel_url)
        if self.steps.current in ("preview", "details", "review"):
            upload, layout = self._upload()
            if layout is not None:
                context.update(upload=upload, layout=layout, delimiter_name=reading.DELIMITERS[layout.delimiter])
                if self.steps.current == "preview":
                    try:
                        context["preview_rows"] = reading.read_preview(upload, layout)
                    except reading.FileProblem as problem:
                        context["preview_problem"] = problem.message
        if self.steps.current == "review":
            context["details"] = self.get_cleaned_data_for_step("details")
            context["estimate"] = self._exit_estimate()
        return context

    def done(self, form_list, form_dict=None, **kwargs):
        upload_form = form_dict["upload"]
        upload = upload_form.cleaned_data["file"]
        details = form_dict["details"].cleaned_data
        confirm_exits = form_dict["review"].cleaned_data.get("confirm_exits", False)
        try:
            if self.audience is None:
                audience_import = audience_import_create(
                    user=self.request.user,
                    sandbox=self.sandbox,
                    upload=upload,
                    delimiter=upload_form.layout.delimiter,
                    **details,
                )
                message = _("%(name)s was created from your file; the import's progress and outcome are below.")
            else:
                audience_import = audience_import_start(
                    user=self.request.user,
                    audience=self.audience,
                    upload=upload,
                    delimiter=upload_form.layout.delimiter,
                    confirm_exits=confirm_exits,
                    **details,
                )
                message = _("A new file for %(name)s was uploaded; the import's progress and outcome are below.")
        except ValidationError as error:
            return self.render_done_refusal("details", error)
        self._forget_upload()
        messages.success(self.request, message % {"name": audience_import.audience})
        return redirect(audience_import.get_absolute_url())

    def _forget_upload(self) -> None:
        """Delete the waiting copy of the upload; the import has its own."""
        stored = self.storage.data.get(self.storage.step_files_key, {}).get("upload", {})
        for field in stored.values():
            self.file_storage.delete(field["tmp_name"])
