from django.urls import path

from personalization.profiles import views

app_name = "profiles"

urlpatterns = [
    # Profile fields
    path("fields/", views.ProfileFieldListView.as_view(), name="profilefield_list"),
    path("fields/new/", views.ProfileFieldCreateView.as_view(), name="profilefield_create"),
    path("fields/<int:pk>/", views.ProfileFieldDetailView.as_view(), name="profilefield_detail"),
    path("fields/<int:pk>/edit/", views.ProfileFieldEditView.as_view(), name="profilefield_edit"),
    path("fields/<int:pk>/delete/", views.ProfileFieldDeleteView.as_view(), name="profilefield_delete"),
    # Profiles
    path("", views.ProfileListView.as_view(), name="profile_list"),
    path("<uuid:pk>/", views.ProfileDetailView.as_view(), name="profile_detail"),
]
