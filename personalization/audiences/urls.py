from django.urls import path

from personalization.audiences import views

app_name = "audiences"

urlpatterns = [
    path("", views.AudienceListView.as_view(), name="audience_list"),
    path("<uuid:pk>/", views.AudienceDetailView.as_view(), name="audience_detail"),
]
