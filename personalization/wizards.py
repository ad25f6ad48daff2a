"""
A session wizard that behaves well in a browser: the base of the destination and audience import wizards.

- Each wizard page carries its own storage key (pretix's SafeSessionWizardView), so two tabs never overwrite
  each other's answers.
- Back, and any jump to an earlier step, stores what the current step holds first, valid or not (pretalx's
  SensibleBackWizardMixin keeps only valid data; here nothing typed is lost), so returning shows it again.
- Posting back to the current step (`wizard_goto_step` = current) stores and redraws it: filters, "add a row".
- A page whose earlier steps lack valid data goes back to the first such step instead of failing later.
- The stored answers are dropped only once `done()` succeeded; a refusal is shown on the step it concerns.
"""

from collections import OrderedDict

from formtools.wizard.forms import ManagementForm
from formtools.wizard.views import SessionWizardView, normalize_name

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.utils.crypto import get_random_string
from django.utils.translation import gettext_lazy as _

from personalization.generic_views import add_service_errors

__all__ = ["BrowserWizardView", "WizardPrefixForm"]

_KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
# Abandoned wizards stay in the session; keep the newest few per wizard so the session cannot grow without bound.
MAX_OPEN_WIZARDS = 10


class WizardPrefixForm(forms.Form):
    """Carries the per-tab storage key of a wizard from page to page."""

    prefix = forms.RegexField(regex=r"^[a-z0-9_]{1,100}$", widget=forms.HiddenInput)


class BrowserWizardView(SessionWizardView):
    """Base of the wizards: named steps, per-step templates and the browser behaviours above."""

    # Step templates are `<template_folder>/<wizard_name>/<step>.html`, falling back to `<template_folder>/base.html`.
    template_folder = ""
    wizard_name = ""
    # What the wizard needs; `check_access` asks it on the wizard's sandbox. The permission matrix reads it.
    rule = None
    title = ""
    step_titles: dict[str, str] = {}

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        self.check_access(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def check_access(self, request, *args, **kwargs) -> None:
        """Load what the wizard works on and raise `PermissionDenied` / `Http404` when the user may not."""
        raise NotImplementedError

    # One storage per tab

    def _wizard_class_key(self) -> str:
        return normalize_name(type(self).__name__)

    def get_prefix(self, request, *args, **kwargs):
        if not hasattr(self, "_tab_prefix"):
            base = self._wizard_class_key()
            posted = WizardPrefixForm(request.POST if request.method == "POST" else None, prefix=base)
            if posted.is_valid() and posted.cleaned_data["prefix"].startswith(base + "_"):
                self._tab_prefix = posted.cleaned_data["prefix"]
            else:
                self._tab_prefix = "%s_%s" % (base, get_random_string(16, _KEY_CHARS))
            self._had_storage = "wizard_%s" % self._tab_prefix in request.session
        return self._tab_prefix

    def _forget_abandoned_wizards(self) -> None:
        session = self.request.session
        mine = [key for key in session.keys() if key.startswith("wizard_%s_" % self._wizard_class_key())]
        for key in mine[:-MAX_OPEN_WIZARDS]:
            del session[key]

    # Requests

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        self._forget_abandoned_wizards()
        return response

    def post(self, *args, **kwargs):
        if not self._had_storage:
            # Finished in another tab, or the session expired: start over rather than guess.
            messages.info(self.request, _("This wizard started over: its earlier answers are no longer available."))
            self.storage.reset()
            self.storage.current_step = self.steps.first
            return self.render(self.get_form())
        steps = list(self.get_form_list())
        if self.request.POST.get("%s-current_step" % self.prefix) not in steps:
            # A step this user's wizard does not have (e.g. Mapping without the permission): redraw the real one.
            return self.render_goto_step(self.steps.current if self.steps.current in steps else self.steps.first)
        goto_step = self.request.POST.get("wizard_goto_step")
        if not goto_step:
            return super().post(*args, **kwargs)
        self._follow_management_form()
        form = self.get_form(data=self.request.POST, files=self.request.FILES)
        self.storage.set_step_data(self.steps.current, self.process_step(form))
        self._forget_cached_steps()
        current = self.steps.current
        if goto_step not in steps or steps.index(goto_step) > steps.index(current):
            goto_step = current  # never skip ahead past unchecked steps
        self.refreshing = goto_step == current
        return self.render_goto_step(goto_step)

    def _follow_management_form(self) -> None:
        management_form = ManagementForm(self.request.POST, prefix=self.prefix)
        if not management_form.is_valid():
            raise SuspiciousOperation("ManagementForm data is missing or has been tampered.")
        posted_step = management_form.cleaned_data["current_step"]
        if posted_step != self.steps.current and self.storage.current_step is not None:
            self.storage.current_step = posted_step

    def _forget_cached_steps(self) -> None:
        for name in [name for name in vars(self) if name.startswith("_cleaned_data_cache_")]:
            delattr(self, name)
        for name in ("_resolved_form_list", "_cache_signature"):
            self.__dict__.pop(name, None)

    def process_step(self, form):
        """Store only this step's fields (not the CSRF token, buttons or other steps' keys)."""
        prefix = self.get_form_prefix(self.steps.current, None) + "-"
        return {key: form.data.getlist(key) for key in form.data if key.startswith(prefix)}

    # Rendering

    def get_template_names(self):
        return [
            "%s/%s/%s.html" % (self.template_folder, self.wizard_name, self.steps.current),
            "%s/base.html" % self.template_folder,
        ]

    def first_step_missing_data(self) -> str | None:
        """Return the earliest step before the current one whose stored answers are missing or no longer valid."""
        for step in self.get_form_list():
            if step == self.steps.current:
                return None
            if self.get_cleaned_data_for_step(step) is None:
                return step
        return None

    def render(self, form=None, **kwargs):
        missing = self.first_step_missing_data()
        if missing is not None:
            messages.warning(self.request, _("Please complete this step first."))
            return self.render_goto_step(missing, **kwargs)
        return super().render(form, **kwargs)

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        steps = list(self.get_form_list())
        current = steps.index(self.steps.current)
        context.update(
            wizard_title=self.title,
            wizard_prefix_form=WizardPrefixForm(prefix=self._wizard_class_key(), initial={"prefix": self.prefix}),
            step_title=self.step_titles[self.steps.current],
            step_list=[
                {
                    "name": step,
                    "title": self.step_titles[step],
                    "number": number,
                    "state": "done" if number - 1 < current else "current" if number - 1 == current else "todo",
                }
                for number, step in enumerate(steps, start=1)
            ],
            refreshing=getattr(self, "refreshing", False),
        )
        return context

    # Finishing

    def render_done(self, form, **kwargs):
        final_forms = OrderedDict()
        for step in self.get_form_list():
            step_form = self.get_form(
                step=step, data=self.storage.get_step_data(step), files=self.storage.get_step_files(step)
            )
            if not step_form.is_valid():
                return self.render_revalidation_failure(step, step_form, **kwargs)
            final_forms[step] = step_form
        self._done_refused = False
        response = self.done(list(final_forms.values()), form_dict=final_forms, **kwargs)
        if not self._done_refused:
            self.request.session.pop(self.storage.prefix, None)
        return response

    def render_done_refusal(self, step: str, error: ValidationError):
        """Show a service's refusal on `step`, keeping every answer so the user can fix it and finish."""
        self._done_refused = True
        self.storage.current_step = step
        form = self.get_form(step=step, data=self.storage.get_step_data(step))
        if isinstance(form, forms.ModelForm):
            add_service_errors(form, error)
        else:
            form.add_error(None, ValidationError(error.messages))
        return self.render(form)
