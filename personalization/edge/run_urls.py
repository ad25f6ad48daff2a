from django.urls import path

from personalization.edge import run_views

app_name = "runs"

urlpatterns = [
    path("", run_views.DataflowRunListView.as_view(), name="dataflowrun_list"),
    path("<uuid:pk>/", run_views.DataflowRunDetailView.as_view(), name="dataflowrun_detail"),
    path("destination/<uuid:pk>/", run_views.DestinationRunsView.as_view(), name="destination_runs"),
]
