from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Length
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import SandboxedModel
from personalization.governance.catalogue import CORE_MARKETING_ACTIONS, CORE_POLICIES
from personalization.validators import require_same_sandbox

__all__ = ["Label", "MarketingAction", "Policy", "deny_labels", "deny_reading", "validate_deny_expression"]


class Label(SandboxedModel):
    """A data usage label (C1–C12, I1, I2, S1, S2 or custom) applied to profile fields."""

    class Category(models.TextChoices):
        CONTRACT = "contract", _("Contract")
        IDENTITY = "identity", _("Identity")
        SENSITIVE = "sensitive", _("Sensitive")
        PARTNER = "partner", _("Partner ecosystem")
        CUSTOM = "custom", _("Custom")

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="labels")
    code = models.CharField(
        _("code"),
        max_length=32,
        validators=[
            RegexValidator(
                r"^[A-Za-z][A-Za-z0-9_-]*\Z",
                _("Start with a letter; then letters, digits, _ or -, as in C2 or PARTNER_ONLY."),
                code="invalid_code",
            )
        ],
        help_text=_("How policies name the label, e.g. C2 or PARTNER_ONLY. It cannot change later."),
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices, default=Category.CUSTOM)
    fields = models.ManyToManyField("profiles.ProfileField", related_name="labels", blank=True)

    class Meta:
        # C2 before C10: by category, then the code's length, then the code.
        ordering = ["category", Length("code"), "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "code"],
                name="label_code_unique_per_sandbox",
                violation_error_message=_("This sandbox already has a label with this code."),
            )
        ]

    def __str__(self):
        return self.code

    def get_absolute_url(self):
        return reverse("governance:label_detail", args=[self.pk])

    @property
    def is_core(self) -> bool:
        return self.category != self.Category.CUSTOM


class MarketingAction(SandboxedModel):
    """What a destination does with data (Onsite Personalization, Export to Third Party, …)."""

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="marketing_actions")
    key = models.SlugField(_("key"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "key"],
                name="marketing_action_key_unique_per_sandbox",
                violation_error_message=_("This sandbox already has a marketing action with this key."),
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("governance:marketingaction_list") + "#action-%s" % self.key

    @property
    def is_core(self) -> bool:
        return self.key in _CORE_ACTION_KEYS


_CORE_ACTION_KEYS = frozenset(key for key, _name, _description in CORE_MARKETING_ACTIONS)
_CORE_POLICY_NAMES = frozenset(name for name, *_rest in CORE_POLICIES)


def deny_labels(expression: dict) -> set[str]:
    """Return every label code a deny expression names."""
    if "label" in expression:
        return {expression["label"]}
    return set().union(*(deny_labels(operand) for operand in expression.get("operands", ())))


def deny_reading(expression: dict, *, nested=False) -> str:
    """Read a deny expression as one line: `C1 and C2`, `C2 or C12`, `(C1 and C2) or C3`."""
    if "label" in expression:
        return expression["label"]
    joiner = str(_(" and ")) if expression["operator"] == "AND" else str(_(" or "))
    text = joiner.join(deny_reading(operand, nested=True) for operand in expression["operands"])
    return "(%s)" % text if nested and len(expression["operands"]) > 1 else text


def validate_deny_expression(value):
    """Accept `{"label": "C1"}` or `{"operator": "AND"|"OR", "operands": [...]}`, nested."""

    def walk(node, where):
        if not isinstance(node, dict):
            raise ValidationError(_("%(where)s must be an object."), params={"where": where}, code="invalid_expression")
        if "label" in node:
            if not isinstance(node["label"], str) or not node["label"]:
                raise ValidationError(
                    _("%(where)s: label must be a code."), params={"where": where}, code="invalid_expression"
                )
            return
        if node.get("operator") not in ("AND", "OR"):
            raise ValidationError(
                _("%(where)s: operator must be AND or OR."), params={"where": where}, code="invalid_operator"
            )
        operands = node.get("operands")
        if not isinstance(operands, list) or not operands:
            raise ValidationError(
                _("%(where)s: operands must be a non-empty list."), params={"where": where}, code="invalid_expression"
            )
        for index, operand in enumerate(operands):
            walk(operand, "%s.operands[%d]" % (where, index))

    walk(value, "deny")


class Policy(SandboxedModel):
    """A data usage policy: when the labels in `deny` meet, the marketing action is refused."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ENABLED = "enabled", _("Enabled")

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="policies")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    marketing_action = models.ForeignKey(MarketingAction, on_delete=models.PROTECT, related_name="policies")
    deny = models.JSONField(_("deny when"), validators=[validate_deny_expression])
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("policies")
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "name"],
                name="policy_name_unique_per_sandbox",
                violation_error_message=_("This sandbox already has a policy with this name."),
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("governance:policy_detail", args=[self.pk])

    @property
    def is_core(self) -> bool:
        """The product's core policies keep their action and expression; they are only enabled or disabled."""
        return self.name in _CORE_POLICY_NAMES

    @property
    def is_enabled(self) -> bool:
        return self.status == self.Status.ENABLED

    def reading(self) -> str:
        """The policy in one line: `Deny Export to Third Party when data is labelled C2 or C12.`"""
        return _("Deny %(action)s when data is labelled %(labels)s.") % {
            "action": self.marketing_action.name,
            "labels": deny_reading(self.deny),
        }

    def clean(self):
        super().clean()
        require_same_sandbox(self, marketing_action=self.marketing_action if self.marketing_action_id else None)
        if self.sandbox_id and isinstance(self.deny, dict):
            try:
                validate_deny_expression(self.deny)
            except ValidationError:
                return  # the field's own validator reports it
            known = set(Label.objects.filter(sandbox_id=self.sandbox_id).values_list("code", flat=True))
            unknown = sorted(deny_labels(self.deny) - known)
            if unknown:
                raise ValidationError(
                    {
                        "deny": _(
                            "No label %(unknown)s in this sandbox; use one of its labels (%(known)s) "
                            "or create it first."
                        )
                        % {"unknown": ", ".join(unknown), "known": ", ".join(sorted(known))}
                    },
                    code="unknown_label",
                )
