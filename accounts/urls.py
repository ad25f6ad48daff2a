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
]
