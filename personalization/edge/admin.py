from django.contrib import admin

from personalization.edge.models import DataflowRun


@admin.register(DataflowRun)
class DataflowRunAdmin(admin.ModelAdmin):
    list_display = ("destination", "status", "started_at", "finished_at", "profiles_received", "profiles_skipped")
    list_filter = ("status",)
    search_fields = ("destination__name",)
    list_select_related = True
