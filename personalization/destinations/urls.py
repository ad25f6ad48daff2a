app_name = "destinations"

urlpatterns = []
