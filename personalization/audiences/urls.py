from django.urls import path

from personalization.audiences import views

app_name = "audiences"

urlpatterns = [
    path("", views.AudienceListView.as_view(), name="audience_list"),
    path("<uuid:pk>/", views.AudienceDetailView.as_view(), name="audience_detail"),
    path("<uuid:pk>/delete/", views.AudienceDeleteView.as_view(), name="audience_delete"),
    path("<uuid:pk>/inactivate/", views.AudienceInactivateView.as_view(), name="audience_inactivate"),
    # CSV custom upload
    path("import/", views.AudienceCsvImportWizard.as_view(), name="audience_import"),
    path("imports/<int:pk>/", views.AudienceImportDetailView.as_view(), name="audience_import_detail"),
    path("imports/<int:pk>/progress/", views.AudienceImportProgressView.as_view(), name="audience_import_progress"),
    path("imports/<int:pk>/errors.csv", views.AudienceImportErrorsView.as_view(), name="audience_import_errors"),
]
