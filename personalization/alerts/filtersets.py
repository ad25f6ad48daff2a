import django_filters

from django.utils.translation import gettext_lazy as _

from personalization.alerts.models import AlertEvent, AlertType

__all__ = ["AlertEventFilterSet"]


class AlertEventFilterSet(django_filters.FilterSet):
    alert_type = django_filters.ChoiceFilter(choices=AlertType.choices, label=_("Alert"), empty_label=_("Any"))
    state = django_filters.ChoiceFilter(
        label=_("State"),
        choices=(("open", _("Triggered, not resolved")), ("resolved", _("Resolved"))),
        method="filter_state",
        empty_label=_("Any"),
    )

    class Meta:
        model = AlertEvent
        fields = ["alert_type", "state"]

    def filter_state(self, queryset, name, value):
        return queryset.filter(resolved_at__isnull=(value == "open"))
