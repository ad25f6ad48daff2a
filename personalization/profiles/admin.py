from django.contrib import admin

from personalization.profiles.models import Identity, IdentityNamespace, Profile, ProfileField


@admin.register(ProfileField)
class ProfileFieldAdmin(admin.ModelAdmin):
    list_display = ("path", "field_type", "sandbox")
    list_filter = ("sandbox", "field_type")
    search_fields = ("path",)


@admin.register(IdentityNamespace)
class IdentityNamespaceAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "sandbox")
    list_filter = ("sandbox",)
    search_fields = ("code", "name")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("id", "sandbox", "updated_at")
    list_filter = ("sandbox",)
    search_fields = ("id", "identities__value")


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("namespace", "value", "profile", "primary")
    list_filter = ("sandbox", "namespace")
    search_fields = ("value",)
    list_select_related = True
    raw_id_fields = ("profile",)
