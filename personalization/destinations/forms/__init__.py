"""Forms of the destinations workspace and of its two wizards (one form per wizard step)."""

from personalization.destinations.forms.activation import (
    ActivationReviewForm,
    AttributeMappingFormSet,
    AttributeMappingRowForm,
    AudienceScheduleForm,
    AudienceSelectionForm,
    SelectDestinationForm,
)
from personalization.destinations.forms.connection import (
    ALERT_DESCRIPTIONS,
    AlertSubscriptionForm,
    DestinationConnectionForm,
    DestinationEditForm,
    MarketingActionsForm,
)

__all__ = [
    "ALERT_DESCRIPTIONS",
    "ActivationReviewForm",
    "AlertSubscriptionForm",
    "AttributeMappingFormSet",
    "AttributeMappingRowForm",
    "AudienceScheduleForm",
    "AudienceSelectionForm",
    "DestinationConnectionForm",
    "DestinationEditForm",
    "MarketingActionsForm",
    "SelectDestinationForm",
]
