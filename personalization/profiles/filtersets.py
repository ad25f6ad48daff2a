import django_filters

from personalization.filters import SandboxedFilterSet
from personalization.profiles.models import IdentityNamespace, Profile, ProfileField

__all__ = ["IdentityNamespaceFilterSet", "ProfileFieldFilterSet", "ProfileFilterSet"]


class ProfileFieldFilterSet(SandboxedFilterSet):
    search_fields = ("path", "description")

    class Meta:
        model = ProfileField
        fields = ["field_type"]


class IdentityNamespaceFilterSet(SandboxedFilterSet):
    search_fields = ("code", "name")

    class Meta:
        model = IdentityNamespace
        fields = ["code"]


class ProfileFilterSet(SandboxedFilterSet):
    """Find profiles by identity: exact value (case-sensitive, as identities are), optionally in one namespace."""

    identity = django_filters.CharFilter(method="filter_identity", label="Identity value")
    namespace = django_filters.CharFilter(field_name="identities__namespace__code", label="Namespace", distinct=True)

    class Meta:
        model = Profile
        fields = []

    def filter_identity(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        namespace = self.data.get("namespace")
        matches = {"identities__value": value}
        if namespace:
            matches["identities__namespace__code"] = namespace
        return queryset.filter(pk__in=Profile.objects.filter(**matches).values("pk"))
