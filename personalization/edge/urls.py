from django.urls import path, re_path

from personalization.edge import views

# The Edge Network's regions (spec §6.1); any other path segment there is an unknown endpoint (404).
LOCATION_HINTS = ("or2", "va6", "irl1", "ind1", "jpn3", "sgp3", "aus3")
LOCATION_HINT = r"(?P<location_hint>%s)" % "|".join(LOCATION_HINTS)

urlpatterns = [
    path("ee/v2/interact", views.interact_view, name="edge-interact"),
    path("ee/v1/interact", views.sdk_interact_view, name="edge-sdk-interact"),
    re_path(r"^ee/%s/v1/interact$" % LOCATION_HINT, views.sdk_interact_view),
    re_path(r"^ee/%s/v2/interact$" % LOCATION_HINT, views.interact_view),
    path("ee/v1/collect", views.sdk_collect_view, name="edge-collect"),
    path("ee/v2/collect", views.collect_view),
    re_path(r"^ee/%s/v1/collect$" % LOCATION_HINT, views.sdk_collect_view),
    re_path(r"^ee/%s/v2/collect$" % LOCATION_HINT, views.collect_view),
    path("ee/health", views.health_view, name="edge-health"),
    path("oauth/token", views.token_view, name="oauth-token"),
    path("metrics", views.metrics_view, name="metrics"),
]
