"""The base of the destination wizards: the shared browser wizard with the destinations' templates."""

from personalization.wizards import BrowserWizardView

__all__ = ["DestinationWizardView"]


class DestinationWizardView(BrowserWizardView):
    """A destination wizard; its step templates live under `templates/destinations/wizard/<wizard_name>/`."""

    template_folder = "destinations/wizard"
