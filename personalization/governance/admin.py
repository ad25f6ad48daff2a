from django.contrib import admin

from personalization.governance.models import Label, MarketingAction, Policy


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "category", "sandbox")
    list_filter = ("sandbox", "category")
    search_fields = ("code", "name")


@admin.register(MarketingAction)
class MarketingActionAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "sandbox")
    list_filter = ("sandbox",)
    search_fields = ("name", "key")


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "marketing_action", "status", "sandbox")
    list_filter = ("sandbox", "status")
    search_fields = ("name",)
