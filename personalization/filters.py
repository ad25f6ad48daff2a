"""Base for the per-app FilterSets, shared by the UI list pages and the API."""

import django_filters

from django.db.models import Q

__all__ = ["SandboxedFilterSet"]


class SandboxedFilterSet(django_filters.FilterSet):
    """Adds `sandbox` (by name) and a free-text `q`; subclasses list the fields `q` searches in `search_fields`."""

    search_fields: tuple[str, ...] = ()

    sandbox = django_filters.CharFilter(field_name="sandbox__name", label="Sandbox")
    q = django_filters.CharFilter(method="search", label="Search")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value or not self.search_fields:
            return queryset
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{field + "__icontains": value})
        return queryset.filter(condition)
