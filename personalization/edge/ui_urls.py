from django.urls import path

from personalization.edge import ui_views

app_name = "edge"

urlpatterns = [
    path("preview/", ui_views.LookupPreviewView.as_view(), name="lookup_preview"),
    path("demo/<uuid:pk>/", ui_views.DemoSiteView.as_view(), name="demo"),
]
