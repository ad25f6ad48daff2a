from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import SandboxedModel
from personalization.validators import require_same_sandbox

__all__ = ["Label", "MarketingAction", "Policy"]


class Label(SandboxedModel):
    """A data usage label (C1–C12, I1, I2, S1, S2 or custom) applied to profile fields."""

    class Category(models.TextChoices):
        CONTRACT = "contract", _("Contract")
        IDENTITY = "identity", _("Identity")
        SENSITIVE = "sensitive", _("Sensitive")
        PARTNER = "partner", _("Partner ecosystem")
        CUSTOM = "custom", _("Custom")

    sandbox = models.ForeignKey("accounts.Sandbox", on_delete=models.PROTECT, related_name="labels")
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices, default=Category.CUSTOM)
    fields = models.ManyToManyField("profiles.ProfileField", related_name="labels", blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["sandbox", "code"],
                name="label_code_unique_per_sandbox",
                violation_error_message=_("This sandbox already has a label with this code."),
            )
        ]

    def __str__(self):
        return self.code


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

    def clean(self):
        super().clean()
        require_same_sandbox(self, marketing_action=self.marketing_action if self.marketing_action_id else None)
