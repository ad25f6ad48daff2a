"""The connect and activation wizards (django-formtools session wizards with named steps)."""

from personalization.destinations.wizards.activate import DestinationActivationWizard
from personalization.destinations.wizards.connect import DestinationConnectWizard

__all__ = ["DestinationActivationWizard", "DestinationConnectWizard"]
