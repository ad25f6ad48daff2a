from personalization.audiences.models import Audience
from personalization.filters import SandboxedFilterSet

__all__ = ["AudienceFilterSet"]


class AudienceFilterSet(SandboxedFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Audience
        fields = ["origin", "status", "evaluation"]
