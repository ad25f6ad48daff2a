from django.contrib import admin

from personalization.audiences.models import Audience, AudienceMembership


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = ("name", "origin", "status", "evaluation", "profile_count", "sandbox")
    list_filter = ("sandbox", "origin", "status", "evaluation")
    search_fields = ("name", "id")


@admin.register(AudienceMembership)
class AudienceMembershipAdmin(admin.ModelAdmin):
    list_display = ("audience", "profile", "status", "qualified_at", "exited_at")
    list_filter = ("status",)
    search_fields = ("profile__id",)
    list_select_related = True
    raw_id_fields = ("profile",)
