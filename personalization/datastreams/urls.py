from django.urls import path

from personalization.datastreams import views

app_name = "datastreams"

urlpatterns = [
    path("", views.DatastreamListView.as_view(), name="datastream_list"),
    path("new/", views.DatastreamCreateView.as_view(), name="datastream_create"),
    path("<uuid:pk>/", views.DatastreamDetailView.as_view(), name="datastream_detail"),
    path("<uuid:pk>/edit/", views.DatastreamEditView.as_view(), name="datastream_edit"),
    path("<uuid:pk>/delete/", views.DatastreamDeleteView.as_view(), name="datastream_delete"),
]
