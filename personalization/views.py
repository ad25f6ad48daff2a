"""Project-wide pages: the overview and the friendly error pages."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.views.generic import TemplateView

from accounts.permissions import (
    CAN_VIEW_DATASTREAMS,
    CAN_VIEW_DESTINATIONS,
    CAN_VIEW_PROFILES,
    CAN_VIEW_SEGMENTS,
    SIGNED_IN,
)
from personalization.audiences.models import Audience
from personalization.datastreams.models import Datastream
from personalization.destinations.models import Destination
from personalization.profiles.models import Profile, ProfileField


def _overview_cards(user, sandbox):
    """Return a card per section the user may see in `sandbox`, each with its object count."""
    sections = (
        ("Datastreams", "datastreams:datastream_list", CAN_VIEW_DATASTREAMS, Datastream),
        ("Profile fields", "profiles:profilefield_list", CAN_VIEW_PROFILES, ProfileField),
        ("Profiles", "profiles:profile_list", CAN_VIEW_PROFILES, Profile),
        ("Audiences", "audiences:audience_list", CAN_VIEW_SEGMENTS, Audience),
        ("Destinations", "destinations:destination_list", CAN_VIEW_DESTINATIONS, Destination),
    )
    return [
        {"label": label, "url_name": url_name, "count": model.objects.restrict(user, rule).in_sandbox(sandbox).count()}
        for label, url_name, rule, model in sections
        if rule.allows(user, sandbox)
    ]


class HomeView(LoginRequiredMixin, TemplateView):
    """The overview of the current sandbox: what the user can open, with counts."""

    rule = SIGNED_IN
    template_name = "home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        sandbox = self.request.sandbox
        context["cards"] = _overview_cards(self.request.user, sandbox) if sandbox else []
        return context


def permission_denied(request, exception=None):
    return render(request, "403.html", status=403)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # Rendered without the request context: whatever failed may be what the context processors need.
    return render(None, "500.html", status=500)
