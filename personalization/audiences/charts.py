"""A small server-side SVG chart of an audience's members over time: no JavaScript, no chart library."""

import datetime

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from personalization.audiences.models import Audience, AudienceMembership

__all__ = ["membership_chart_svg", "membership_history"]

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 180, 44, 22, 10


def membership_history(audience: Audience, *, days: int = 30, today: datetime.date | None = None) -> list[dict]:
    """
    Return, for each of the last `days` days, how many profiles qualified, how many exited, and the size at the
    end of the day (members qualified by then and not exited by then).

    Two grouped queries plus one count; a membership that re-qualified counts from its latest qualification.
    """
    today = today or timezone.localdate()
    first = today - datetime.timedelta(days=days - 1)
    memberships = AudienceMembership.objects.filter(audience=audience)
    qualified = dict(
        memberships.filter(qualified_at__date__gte=first)
        .annotate(day=TruncDate("qualified_at"))
        .values_list("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    exited = dict(
        memberships.filter(exited_at__date__gte=first)
        .annotate(day=TruncDate("exited_at"))
        .values_list("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    # Size on the day before the window: qualified before it, and not exited before it.
    size = memberships.filter(qualified_at__date__lt=first).exclude(exited_at__date__lt=first).count()
    history = []
    for offset in range(days):
        day = first + datetime.timedelta(days=offset)
        size += qualified.get(day, 0) - exited.get(day, 0)
        history.append({"day": day, "realized": qualified.get(day, 0), "exited": exited.get(day, 0), "size": size})
    return history


def membership_chart_svg(history: list[dict]) -> str:
    """Render `history` as an accessible inline SVG: bars for realized (up) and exited (down), a line for size."""
    if not history:
        return ""
    peak = max(max(point["size"], point["realized"], point["exited"]) for point in history) or 1
    plot_width, plot_height = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_width / len(history)
    bar = max(1.0, step / 2 - 1)

    def y(value):
        return PAD_TOP + plot_height - value / peak * plot_height

    bars, points = [], []
    for index, point in enumerate(history):
        x = PAD_LEFT + index * step
        title = _("%(day)s: %(realized)d realized, %(exited)d exited, %(size)d members") % {
            "day": point["day"].isoformat(),
            "realized": point["realized"],
            "exited": point["exited"],
            "size": point["size"],
        }
        for kind, value, left in (("realized", point["realized"], x), ("exited", point["exited"], x + bar)):
            if value:
                bars.append((kind, "%.1f" % left, "%.1f" % y(value), "%.1f" % bar, "%.1f" % (y(0) - y(value)), title))
        points.append("%.1f,%.1f" % (x + step / 2, y(point["size"])))
    label = _("Members over the last %(days)d days: %(size)d now.") % {
        "days": len(history),
        "size": history[-1]["size"],
    }
    body = format_html_join(
        "",
        '<rect class="chart-{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        bars,
    )
    axis = format_html(
        '<line class="chart-axis" x1="{}" y1="{}" x2="{}" y2="{}"/>'
        '<text class="chart-label" x="{}" y="{}" text-anchor="end">{}</text>'
        '<text class="chart-label" x="{}" y="{}" text-anchor="end">0</text>'
        '<text class="chart-label" x="{}" y="{}">{}</text>'
        '<text class="chart-label" x="{}" y="{}" text-anchor="end">{}</text>',
        PAD_LEFT,
        "%.1f" % y(0),
        WIDTH - 8,
        "%.1f" % y(0),
        PAD_LEFT - 4,
        PAD_TOP + 8,
        peak,
        PAD_LEFT - 4,
        "%.1f" % y(0),
        PAD_LEFT,
        HEIGHT - 4,
        history[0]["day"].isoformat(),
        WIDTH - 8,
        HEIGHT - 4,
        history[-1]["day"].isoformat(),
    )
    line = format_html('<polyline class="chart-size" fill="none" points="{}"/>', " ".join(points))
    return format_html(
        '<svg class="membership-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}{}{}</svg>',
        WIDTH,
        HEIGHT,
        label,
        axis,
        body,
        line,
    )
