from django.urls import path

from personalization.audiences import views

app_name = "audiences"

urlpatterns = [
    path("", views.AudienceListView.as_view(), name="audience_list"),
    path("add/", views.AudienceCreateView.as_view(), name="audience_create"),
    path("estimate/", views.AudienceEstimateView.as_view(), name="audience_estimate"),
    path("<uuid:pk>/", views.AudienceDetailView.as_view(), name="audience_detail"),
    path("<uuid:pk>/edit/", views.AudienceEditView.as_view(), name="audience_edit"),
    path("<uuid:pk>/estimate/", views.AudienceEstimateView.as_view(), name="audience_estimate_for"),
    path("<uuid:pk>/publish/", views.AudiencePublishView.as_view(), name="audience_publish"),
    path("<uuid:pk>/delete/", views.AudienceDeleteView.as_view(), name="audience_delete"),
    path("<uuid:pk>/inactivate/", views.AudienceInactivateView.as_view(), name="audience_inactivate"),
    # CSV custom upload
    path("import/", views.AudienceCsvImportWizard.as_view(), name="audience_import"),
    path("<uuid:pk>/import/", views.AudienceCsvImportWizard.as_view(), name="audience_import_into"),
    path(
        "imports/<int:pk>/confirm-exits/",
        views.AudienceImportConfirmExitsView.as_view(),
        name="audience_import_confirm_exits",
    ),
    path("imports/<int:pk>/", views.AudienceImportDetailView.as_view(), name="audience_import_detail"),
    path("imports/<int:pk>/progress/", views.AudienceImportProgressView.as_view(), name="audience_import_progress"),
    path("imports/<int:pk>/errors.csv", views.AudienceImportErrorsView.as_view(), name="audience_import_errors"),
]
