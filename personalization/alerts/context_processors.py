from django.utils.functional import SimpleLazyObject

from personalization.alerts.selectors import notifications_for

__all__ = ["bell"]

BELL_SIZE = 5


def bell(request):
    """Give the header's bell the signed-in user's unread count and latest unread notifications (read when shown)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    unread = notifications_for(user, unread_only=True)
    return {
        "bell_unread": SimpleLazyObject(lambda: unread.count()),
        "bell_latest": SimpleLazyObject(lambda: list(unread[:BELL_SIZE])),
    }
