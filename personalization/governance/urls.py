from django.urls import path

from personalization.governance import views

app_name = "governance"

urlpatterns = [
    path("", views.PolicyListView.as_view(), name="policy_list"),
    path("policies/new/", views.PolicyCreateView.as_view(), name="policy_create"),
    path("policies/<int:pk>/", views.PolicyDetailView.as_view(), name="policy_detail"),
    path("policies/<int:pk>/edit/", views.PolicyEditView.as_view(), name="policy_edit"),
    path("policies/<int:pk>/delete/", views.PolicyDeleteView.as_view(), name="policy_delete"),
    path("policies/<int:pk>/status/", views.PolicyStatusView.as_view(), name="policy_status"),
    path("labels/", views.LabelListView.as_view(), name="label_list"),
    path("labels/new/", views.LabelCreateView.as_view(), name="label_create"),
    path("labels/<int:pk>/", views.LabelDetailView.as_view(), name="label_detail"),
    path("labels/<int:pk>/edit/", views.LabelEditView.as_view(), name="label_edit"),
    path("labels/<int:pk>/delete/", views.LabelDeleteView.as_view(), name="label_delete"),
    path("marketing-actions/", views.MarketingActionListView.as_view(), name="marketingaction_list"),
    path("marketing-actions/new/", views.MarketingActionCreateView.as_view(), name="marketingaction_create"),
    path(
        "marketing-actions/<int:pk>/delete/", views.MarketingActionDeleteView.as_view(), name="marketingaction_delete"
    ),
    path("fields/", views.FieldLabelsBulkView.as_view(), name="field_labels"),
    path("fields/<int:pk>/", views.FieldLabelsEditView.as_view(), name="field_labels_edit"),
]
