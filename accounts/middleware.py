from accounts.permissions import sandboxes_visible_to

SESSION_KEY = "current_sandbox_id"
# Production first ("production" sorts after "development"), then by name.
SANDBOX_ORDER = ("-kind", "name")


def current_sandbox(request):
    """Return the sandbox picked in the switcher, falling back to the first one the user can see."""
    if not request.user.is_authenticated:
        return None
    visible = sandboxes_visible_to(request.user)
    chosen = request.session.get(SESSION_KEY)
    sandbox = visible.filter(pk=chosen).first() if chosen else None
    return sandbox or visible.order_by(*SANDBOX_ORDER).first()


class CurrentSandboxMiddleware:
    """Expose the sandbox picked in the switcher as `request.sandbox` (None when the user can see none)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.sandbox = current_sandbox(request) if hasattr(request, "session") else None
        return self.get_response(request)
