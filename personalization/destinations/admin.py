from django.contrib import admin

from personalization.destinations.models import AttributeMapping, AudienceActivation, Destination


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "alias", "datastream", "enabled", "sandbox")
    list_filter = ("sandbox", "kind", "enabled")
    search_fields = ("name", "alias")


@admin.register(AudienceActivation)
class AudienceActivationAdmin(admin.ModelAdmin):
    list_display = ("destination", "audience", "start_date", "end_date")
    search_fields = ("audience__name", "destination__name")
    list_select_related = True


@admin.register(AttributeMapping)
class AttributeMappingAdmin(admin.ModelAdmin):
    list_display = ("destination", "source", "target")
    search_fields = ("target",)
    list_select_related = True
