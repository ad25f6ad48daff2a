"""The management API router: every viewset under /api/v1/."""

from rest_framework.routers import APIRootView, DefaultRouter

from accounts.api import ApiCredentialViewSet, AuditEntryViewSet, PersonalTokenViewSet, RoleViewSet, SandboxViewSet
from accounts.permissions import SIGNED_IN
from personalization.audiences.api import AudienceViewSet
from personalization.audiences.profile_api import ProfileViewSet
from personalization.datastreams.api import DatastreamViewSet
from personalization.destinations.api import ActivationViewSet, AttributeMappingViewSet, DestinationViewSet
from personalization.governance.api import FieldLabelsViewSet, LabelViewSet, MarketingActionViewSet, PolicyViewSet
from personalization.profiles.api import IdentityNamespaceViewSet, ProfileFieldViewSet


class ApiRootView(APIRootView):
    """The API's index of endpoints: any signed-in user may read it."""

    rule = SIGNED_IN


class Router(DefaultRouter):
    APIRootView = ApiRootView


router = Router()

# Accounts
router.register("sandboxes", SandboxViewSet, basename="sandbox")
router.register("roles", RoleViewSet, basename="role")
router.register("tokens", PersonalTokenViewSet, basename="token")
router.register("credentials", ApiCredentialViewSet, basename="credential")
router.register("audit-log", AuditEntryViewSet, basename="audit-entry")

# Datastreams
router.register("datastreams", DatastreamViewSet, basename="datastream")

# Profiles
router.register("profile-fields", ProfileFieldViewSet, basename="profile-field")
router.register("identity-namespaces", IdentityNamespaceViewSet, basename="identity-namespace")
router.register("profiles", ProfileViewSet, basename="profile")

# Data governance
router.register("labels", LabelViewSet, basename="label")
router.register("marketing-actions", MarketingActionViewSet, basename="marketing-action")
router.register("policies", PolicyViewSet, basename="policy")
router.register("field-labels", FieldLabelsViewSet, basename="field-labels")

# Audiences
router.register("audiences", AudienceViewSet, basename="audience")

# Destinations
router.register("destinations", DestinationViewSet, basename="destination")
router.register("activations", ActivationViewSet, basename="activation")
router.register("attribute-mappings", AttributeMappingViewSet, basename="attribute-mapping")

urlpatterns = router.urls
