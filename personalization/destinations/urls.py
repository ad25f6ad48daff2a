from django.urls import path

from personalization.destinations import views

app_name = "destinations"

urlpatterns = [
    path("", views.DestinationListView.as_view(), name="destination_list"),
    path("catalog/", views.DestinationCatalogView.as_view(), name="destination_catalog"),
    path("catalog/<slug:kind>/connect/", views.DestinationConnectWizard.as_view(), name="destination_connect"),
    path(
        "catalog/<slug:kind>/activate/",
        views.DestinationActivationWizard.as_view(),
        name="destination_activate_kind",
    ),
    path("<uuid:pk>/", views.DestinationDetailView.as_view(), name="destination_detail"),
    path("<uuid:pk>/activate/", views.DestinationActivationWizard.as_view(), name="destination_activate"),
    path("<uuid:pk>/edit/", views.DestinationEditView.as_view(), name="destination_edit"),
    path("<uuid:pk>/delete/", views.DestinationDeleteView.as_view(), name="destination_delete"),
    path("<uuid:pk>/enabled/", views.DestinationEnabledView.as_view(), name="destination_enabled"),
    path("<uuid:pk>/alerts/", views.DestinationAlertsView.as_view(), name="destination_alerts"),
]
