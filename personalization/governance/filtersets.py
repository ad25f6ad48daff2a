from personalization.filters import SandboxedFilterSet
from personalization.governance.models import Label, MarketingAction, Policy

__all__ = ["LabelFilterSet", "MarketingActionFilterSet", "PolicyFilterSet"]


class PolicyFilterSet(SandboxedFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Policy
        fields = ["status", "marketing_action"]


class LabelFilterSet(SandboxedFilterSet):
    search_fields = ("code", "name", "description")

    class Meta:
        model = Label
        fields = ["category", "code"]


class MarketingActionFilterSet(SandboxedFilterSet):
    search_fields = ("key", "name", "description")

    class Meta:
        model = MarketingAction
        fields = ["key"]
