from django.contrib import admin
from django.contrib.auth.models import Group

from accounts.models import PersonalToken, Role, Sandbox
from accounts.services import role_sync_grants


@admin.register(Sandbox)
class SandboxAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "kind", "created_at")
    search_fields = ("name", "title")


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "description")
    filter_horizontal = ("users", "sandboxes")
    search_fields = ("name",)

    def save_model(self, request, obj, form, change):
        if not obj.group_id:
            obj.group, _created = Group.objects.get_or_create(name="role:%s" % obj.name)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        role = form.instance
        role.group.user_set.set(role.users.all())
        role_sync_grants(role=role)


@admin.register(PersonalToken)
class PersonalTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "last_used_at")
    exclude = ("digest",)

    def has_add_permission(self, request):
        # Tokens are created through the API or the profile page, where the plaintext is shown once.
        return False
