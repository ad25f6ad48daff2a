from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sandbox/", views.SandboxSwitchView.as_view(), name="switch_sandbox"),
    path("credentials/", views.ApiCredentialListView.as_view(), name="apicredential_list"),
    path("credentials/new/", views.ApiCredentialCreateView.as_view(), name="apicredential_create"),
    path("credentials/<int:pk>/revoke/", views.ApiCredentialRevokeView.as_view(), name="apicredential_revoke"),
]
