from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from django.contrib import admin
from django.urls import include, path, re_path

from accounts.permissions import PUBLIC, SIGNED_IN, declare_rule
from personalization import views
from personalization.api_base import ApiNotFoundView
from personalization.api_urls import urlpatterns as api_v1_urlpatterns
from personalization.edge import views as edge_views

# The Edge Network endpoints answer websites and servers: public by design (attributes need a bearer token).
for edge_view in (
    edge_views.interact_view,
    edge_views.sdk_interact_view,
    edge_views.collect_view,
    edge_views.sdk_collect_view,
    edge_views.health_view,
    edge_views.token_view,
):
    declare_rule(PUBLIC)(edge_view)


class ApiSchemaView(SpectacularAPIView):
    rule = SIGNED_IN


class ApiDocsView(SpectacularSwaggerView):
    rule = SIGNED_IN


class ApiReferenceView(SpectacularRedocView):
    rule = SIGNED_IN


handler403 = "personalization.views.permission_denied"
handler404 = "personalization.views.page_not_found"
handler500 = "personalization.views.server_error"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("accounts/", include("accounts.urls")),
    path("datastreams/", include("personalization.datastreams.urls")),
    path("profiles/", include("personalization.profiles.urls")),
    path("audiences/", include("personalization.audiences.urls")),
    path("destinations/", include("personalization.destinations.urls")),
    path("lookup/", include("personalization.edge.ui_urls")),
    path("runs/", include("personalization.edge.run_urls")),
    path("alerts/", include("personalization.alerts.urls")),
    path("governance/", include("personalization.governance.urls")),
    path("api/v1/", include((api_v1_urlpatterns, "api"))),
    path("api/schema/", ApiSchemaView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", ApiReferenceView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^api/", ApiNotFoundView.as_view()),
    path("admin/", admin.site.urls),
    path("", include("personalization.edge.urls")),
]
