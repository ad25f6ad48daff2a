from django.contrib import admin

from personalization.datastreams.models import Datastream


@admin.register(Datastream)
class DatastreamAdmin(admin.ModelAdmin):
    list_display = ("name", "sandbox", "access_type", "personalization_destinations", "enabled")
    list_filter = ("sandbox", "access_type", "enabled")
    search_fields = ("name", "id")
