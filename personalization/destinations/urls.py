from django.urls import path

from personalization.destinations import views

app_name = "destinations"

urlpatterns = [
    path("", views.DestinationListView.as_view(), name="destination_list"),
    path("<uuid:pk>/", views.DestinationDetailView.as_view(), name="destination_detail"),
]
