"""
Generic UI views in NetBox's style: a page is a class declaring `queryset`, `filterset_class`,
`form_class`, `service` and its two rules, `view_rule` (who sees the objects) and `manage_rule` (who
changes them); these bases do the rest. List and detail pages need `view_rule`, write pages `manage_rule`.

Every queryset goes through `restrict()` (via `SandboxPermissionRequiredMixin`), every write through a
service, and a service's `ValidationError` comes back as form errors or a message, never as a 500.
"""

import copy

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import UniqueConstraint
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import CreateView, DetailView, ListView, UpdateView

from accounts.hints import missing_permission
from accounts.permissions import Rule, SandboxPermissionRequiredMixin, in_sandbox, permission_map, restrict, sandbox_of

__all__ = [
    "ObjectCreateView",
    "ObjectDeleteView",
    "ObjectDetailView",
    "ObjectEditView",
    "ObjectListView",
    "SandboxedModelForm",
    "add_service_errors",
    "scope_to_sandbox",
]


def scope_to_sandbox(queryset, user, rule, sandbox):
    """Return the rows of `queryset` that `user` may see under `rule`, limited to `sandbox`."""
    return in_sandbox(restrict(queryset, user, rule), sandbox)


def _scope_choice_fields(form, user, rule, sandbox) -> None:
    """Limit every model choice field of `form` to what `user` may pick in `sandbox`."""
    for field in form.fields.values():
        if isinstance(field, forms.ModelChoiceField):
            field.queryset = scope_to_sandbox(field.queryset, user, rule, sandbox)


def _constraint_field(model, message, form) -> str | None:
    """Name the form field a multi-field unique constraint's message is about (`sandbox` is never in forms)."""
    for constraint in model._meta.constraints:
        if isinstance(constraint, UniqueConstraint) and str(constraint.get_violation_error_message()) == message:
            return next((name for name in constraint.fields if name in form.fields), None)
    return None


def _errors_for_form(form, error: ValidationError) -> list[tuple[str | None, ValidationError]]:
    """Pair each message of `error` with the form field it belongs to, or None for the form as a whole."""
    model = form._meta.model
    pairs = []
    for field, errors in error.update_error_dict({}).items():
        for item in errors:
            message = item.message % item.params if item.params else item.message
            target = field if field in form.fields else None
            if target is None and field == NON_FIELD_ERRORS:
                target = _constraint_field(model, str(message), form)
            pairs.append((target, ValidationError(message, code=item.code)))
    return pairs


def add_service_errors(form, error: ValidationError) -> None:
    """Show a service's `ValidationError` on `form`: next to its field when the error names one."""
    for field, item in _errors_for_form(form, error):
        form.add_error(field, item)


class SandboxedModelForm(forms.ModelForm):
    """
    A model form bound to a sandbox: choice fields offer only rows of `sandbox` that `user` may see under
    `rule`, and per-sandbox unique constraints are checked with the other fields, next to the field they name.
    """

    def __init__(self, *args, user, sandbox, rule, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.sandbox = sandbox
        if self.instance._state.adding and self.instance.sandbox_id is None:
            # The model's own clean() needs the sandbox to check rules such as overlapping paths.
            self.instance.sandbox = sandbox
        _scope_choice_fields(self, user, rule, sandbox)

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        exclude.discard("sandbox")
        return exclude

    def _update_errors(self, errors):
        by_field = {}
        for field, item in _errors_for_form(self, errors):
            by_field.setdefault(field or NON_FIELD_ERRORS, []).append(item)
        super()._update_errors(ValidationError(by_field))


class _ObjectContextMixin:
    """Give templates the model's names and whether the user may change objects (`can_manage`)."""

    view_rule: Rule | None = None
    manage_rule: Rule | None = None
    # Write pages this page links to (`create` on lists, `edit` / `delete` on objects).
    actions: tuple[str, ...] = ()

    def permissions_for(self, sandbox_id) -> frozenset[str]:
        return permission_map(self.request.user).get(sandbox_id, frozenset())

    def get_model(self):
        if self.queryset is not None:
            return self.queryset.model
        return self.model or self.get_form_class()._meta.model

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        meta = self.get_model()._meta
        obj = getattr(self, "object", None)
        # Object pages follow the object's sandbox, which need not be the one picked in the switcher.
        sandbox_id = sandbox_of(obj) if obj is not None else getattr(self.request.sandbox, "pk", None)
        perms = self.permissions_for(sandbox_id)
        url_prefix = "%s:%s_" % (self.request.resolver_match.namespace, meta.model_name)
        can_manage = bool(self.manage_rule and self.manage_rule.satisfied_by(perms))
        context.update(
            verbose_name=meta.verbose_name,
            verbose_name_plural=meta.verbose_name_plural,
            list_url=reverse(url_prefix + "list"),
            object_perms=perms,
            can_manage=can_manage,
            # Where write buttons are hidden, say which permission they need and who can grant it.
            manage_hint=missing_permission(self.request.user, self.manage_rule, sandbox_id)
            if self.manage_rule and self.actions and not can_manage
            else None,
            # Buttons only for what the user may do; the views check again on arrival.
            action_urls={
                action: reverse(url_prefix + action, args=[obj.pk] if action != "create" else None)
                for action in (self.actions if can_manage else ())
            },
        )
        return context


class _ViewRequired:
    """List and detail pages need the model's `view_rule`."""

    @classmethod
    def declared_rule(cls):
        return cls.view_rule


class ObjectListView(_ViewRequired, SandboxPermissionRequiredMixin, _ObjectContextMixin, ListView):
    """List the current sandbox's objects, filtered by the model's FilterSet and paginated."""

    current_sandbox_only = True
    filterset_class = None
    filter_fields: tuple[str, ...] = ("q",)
    paginate_by = 50
    template_name = "generic/object_list.html"

    def get_filterset(self, queryset):
        filterset = self.filterset_class(self.request.GET or None, queryset=queryset, request=self.request)
        fields = filterset.form.fields
        filterset.form.fields = {name: fields[name] for name in self.filter_fields if name in fields}
        if "q" in filterset.form.fields:
            filterset.form.fields["q"].widget.input_type = "search"
        _scope_choice_fields(filterset.form, self.request.user, self.view_rule, self.request.sandbox)
        for field in filterset.form.fields.values():
            # A filter left empty means "any", so say so instead of "Unknown" or dashes.
            if isinstance(field.widget, forms.NullBooleanSelect):
                field.widget.choices = (("unknown", _("Any")), ("true", _("Yes")), ("false", _("No")))
            elif isinstance(field, forms.ModelChoiceField):
                field.empty_label = _("Any")
            elif hasattr(field, "empty_label"):
                # django-filter's choice iterator is bound to the form class's field; setting the choices
                # again binds it to this form's copy, which carries the new label.
                field.empty_label = _("Any")
                field.choices = [choice for choice in field.choices if choice[0] != ""]
        return filterset

    def get_queryset(self):
        queryset = super().get_queryset()
        if not queryset.ordered:
            # Annotations drop the model's default ordering; pages must keep a stable order.
            queryset = queryset.order_by(*(queryset.model._meta.ordering or ["pk"]))
        if self.filterset_class is None:
            self.filterset = None
            return queryset
        self.filterset = self.get_filterset(queryset)
        # Filters the form rejected are dropped, so a bad value never hides the whole list.
        return self.filterset.qs if self.filterset.is_bound else queryset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filter_form"] = self.filterset.form if self.filterset else None
        context["is_filtered"] = any(
            self.request.GET.get(name) not in (None, "", "unknown") for name in self.filter_fields
        )
        return context


class ObjectDetailView(_ViewRequired, SandboxPermissionRequiredMixin, _ObjectContextMixin, DetailView):
    """Show one object; 404 when it lives in a sandbox where the user lacks `view_rule`."""


class _ServiceFormMixin(_ObjectContextMixin):
    """Validate the form, then hand its cleaned data to `service`; the service's errors land on the form."""

    service = None
    success_message = ""
    template_name = "generic/object_form.html"

    def form_sandbox(self):
        raise NotImplementedError

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if issubclass(self.get_form_class(), SandboxedModelForm):
            kwargs.update(user=self.request.user, sandbox=self.form_sandbox(), rule=self.view_rule)
        return kwargs

    def call_service(self, form):
        raise NotImplementedError

    def form_valid(self, form):
        try:
            self.object = self.call_service(form)
        except ValidationError as error:
            add_service_errors(form, error)
            return self.form_invalid(form)
        if self.success_message:
            messages.success(self.request, self.success_message % {"name": self.object})
        return redirect(self.object.get_absolute_url())


class _ManageRequired:
    """Require the page's `manage_rule` (403 for viewers) on the current or the object's sandbox."""

    @classmethod
    def declared_rule(cls):
        return cls.manage_rule

    @classmethod
    def visibility_rule(cls):
        return cls.view_rule


class ObjectCreateView(_ManageRequired, SandboxPermissionRequiredMixin, _ServiceFormMixin, CreateView):
    """Create an object in the current sandbox through `service(user=, sandbox=, **cleaned_data)`."""

    success_message = _("%(name)s was created.")

    def form_sandbox(self):
        return self.request.sandbox

    def call_service(self, form):
        return self.service(user=self.request.user, sandbox=self.request.sandbox, **form.cleaned_data)


class ObjectEditView(_ManageRequired, SandboxPermissionRequiredMixin, _ServiceFormMixin, UpdateView):
    """Change an object through `service(user=, <object_kwarg>=obj, **cleaned_data)`."""

    object_kwarg = ""
    success_message = _("%(name)s was saved.")

    def form_sandbox(self):
        return sandbox_of(self.object)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        # The form validates its own copy; the service gets another, unchanged one, so it can compare old and
        # new values, and a refused edit leaves the page showing the saved object.
        kwargs["instance"] = copy.copy(self.object)
        return kwargs

    def call_service(self, form):
        target = copy.copy(self.object)
        return self.service(user=self.request.user, **{self.object_kwarg: target}, **form.cleaned_data)


class ObjectDeleteView(_ManageRequired, SandboxPermissionRequiredMixin, _ObjectContextMixin, DetailView):
    """
    Confirm, then delete through `service(user=, <object_kwarg>=obj)`.

    `impact` lists `(related name, heading)` pairs shown on the confirmation page so the user sees what
    the deletion touches; a refusal from the service is shown on the same page.
    """

    object_kwarg = ""
    service = None
    impact: tuple[tuple[str, str], ...] = ()
    template_name = "generic/object_delete.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["impact"] = [(heading, list(getattr(self.object, name).all())) for name, heading in self.impact]
        return context

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        try:
            self.service(user=request.user, **{self.object_kwarg: self.object})
        except ValidationError as error:
            context = self.get_context_data(object=self.object, refusal=error.messages)
            return self.render_to_response(context)
        messages.success(request, _("%(name)s was deleted.") % {"name": self.object})
        meta = self.object._meta
        return redirect(reverse("%s:%s_list" % (request.resolver_match.namespace, meta.model_name)))
