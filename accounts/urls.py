from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    path("sandbox/", views.SandboxSwitchView.as_view(), name="switch_sandbox"),
    path("credentials/", views.ApiCredentialListView.as_view(), name="apicredential_list"),
    path("credentials/new/", views.ApiCredentialCreateView.as_view(), name="apicredential_create"),
    path("credentials/<int:pk>/revoke/", views.ApiCredentialRevokeView.as_view(), name="apicredential_revoke"),
    path("set-password/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password_set"),
    path("roles/", views.RoleListView.as_view(), name="role_list"),
    path("roles/new/", views.RoleCreateView.as_view(), name="role_create"),
    path("roles/<int:pk>/edit/", views.RoleEditView.as_view(), name="role_edit"),
    path("roles/<int:pk>/delete/", views.RoleDeleteView.as_view(), name="role_delete"),
    path("audit/", views.AuditLogView.as_view(), name="audit_log"),
    path("users/", views.UserListView.as_view(), name="user_list"),
    path("users/new/", views.UserCreateView.as_view(), name="user_create"),
    path("users/<int:pk>/", views.UserDetailView.as_view(), name="user_detail"),
    path("users/<int:pk>/active/", views.UserActiveView.as_view(), name="user_active"),
    path("users/<int:pk>/unlock/", views.UserUnlockView.as_view(), name="user_unlock"),
]
