from django.urls import path, re_path

from personalization.edge import views

urlpatterns = [
    path("ee/v2/interact", views.interact_view, name="edge-interact"),
    path("ee/v1/interact", views.sdk_interact_view, name="edge-sdk-interact"),
    re_path(r"^ee/(?P<location_hint>[a-z0-9]{2,8})/v1/interact$", views.sdk_interact_view),
    re_path(r"^ee/(?P<location_hint>[a-z0-9]{2,8})/v2/interact$", views.interact_view),
    path("ee/v1/collect", views.collect_view, name="edge-collect"),
    path("ee/v2/collect", views.collect_view),
    path("ee/health", views.health_view, name="edge-health"),
    path("oauth/token", views.token_view, name="oauth-token"),
    path("metrics", views.metrics_view, name="metrics"),
]
