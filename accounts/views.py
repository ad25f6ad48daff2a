from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts.middleware import SESSION_KEY
from accounts.permissions import sandboxes_visible_to


class SandboxSwitchView(LoginRequiredMixin, View):
    """Make another sandbox the current one; only sandboxes where the user holds a permission qualify."""

    http_method_names = ["post"]

    def post(self, request):
        sandbox = sandboxes_visible_to(request.user).filter(pk=request.POST.get("sandbox")).first()
        if sandbox is None:
            raise Http404("No such sandbox")
        request.session[SESSION_KEY] = sandbox.pk
        target = request.POST.get("next") or "/"
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
            target = "/"
        return redirect(target)
