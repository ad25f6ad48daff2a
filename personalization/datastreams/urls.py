app_name = "datastreams"

urlpatterns = []
