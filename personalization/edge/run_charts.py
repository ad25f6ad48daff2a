"""A server-side SVG chart of a destination's dataflow runs: activated and skipped profiles per run, oldest first."""

from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

__all__ = ["runs_chart_svg"]

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 180, 44, 22, 10


def runs_chart_svg(runs: list) -> str:
    """Render runs (oldest first) as stacked bars: activated below, skipped on top, each with its numbers."""
    if not runs:
        return ""
    peak = max(run.profiles_activated + run.profiles_skipped for run in runs) or 1
    plot_width, plot_height = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_width / len(runs)
    bar = max(1.0, step * 0.7)

    def height(value):
        return value / peak * plot_height

    bars = []
    for index, run in enumerate(runs):
        x = PAD_LEFT + index * step
        title = _("%(when)s: %(activated)s activated, %(skipped)s skipped of %(received)s received") % {
            "when": run.started_at.strftime("%Y-%m-%d %H:%M"),
            "activated": format(run.profiles_activated, ","),
            "skipped": format(run.profiles_skipped, ","),
            "received": format(run.profiles_received, ","),
        }
        base = PAD_TOP + plot_height
        for kind, value in (("activated", run.profiles_activated), ("skipped", run.profiles_skipped)):
            if value:
                top = base - height(value)
                bars.append((kind, "%.1f" % x, "%.1f" % top, "%.1f" % bar, "%.1f" % height(value), title))
                base = top
    total_skipped = sum(run.profiles_skipped for run in runs)
    total_received = sum(run.profiles_received for run in runs)
    label = _("Activated and skipped profiles in the last %(runs)d runs: %(skipped)s skipped of %(received)s.") % {
        "runs": len(runs),
        "skipped": format(total_skipped, ","),
        "received": format(total_received, ","),
    }
    body = format_html_join(
        "", '<rect class="chart-{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>', bars
    )
    bottom = PAD_TOP + plot_height
    axis = format_html(
        '<line class="chart-axis" x1="{}" y1="{}" x2="{}" y2="{}"/>'
        '<text class="chart-label" x="{}" y="{}" text-anchor="end">{}</text>'
        '<text class="chart-label" x="{}" y="{}" text-anchor="end">0</text>'
        '<text class="chart-label" x="{}" y="{}">{}</text>'
        '<text class="chart-label" x="{}" y="{}" text-anchor="end">{}</text>',
        PAD_LEFT,
        bottom,
        WIDTH - 8,
        bottom,
        PAD_LEFT - 4,
        PAD_TOP + 8,
        format(peak, ","),
        PAD_LEFT - 4,
        bottom,
        PAD_LEFT,
        HEIGHT - 4,
        runs[0].started_at.strftime("%Y-%m-%d"),
        WIDTH - 8,
        HEIGHT - 4,
        runs[-1].started_at.strftime("%Y-%m-%d"),
    )
    return format_html(
        '<svg class="runs-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">'
        "{}{}</svg>",
        WIDTH,
        HEIGHT,
        label,
        axis,
        body,
    )
