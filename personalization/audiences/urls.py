app_name = "audiences"

urlpatterns = []
