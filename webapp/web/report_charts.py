"""The reports page's five charts, drawn from a `Report` (figures in, geometry out)."""

from __future__ import annotations

from webapp.web.charts import Chart, Series, column_chart, row_chart
from webapp.web.display import status_label
from webapp.web.reports import Report

# Palette classes (web.css): a stable colour per status and per interaction type.
STATUS_CSS = {"new": "c0", "contacted": "c1", "qualified": "c2", "negotiating": "c3",
              "closed_won": "c4", "closed_lost": "c5", "follow_up": "c6"}
TYPE_CSS = {"call": "c0", "meeting": "c1", "viewing": "c2", "email": "c3", "text": "c6",
            "note": "c7"}


def report_charts(report: Report) -> dict[str, Chart]:
    """Months and weeks are already local dates in `report`."""
    months = [month.strftime("%b %Y" if len(report.months) < 4 else "%b")
              for month, _, _ in report.months]
    weeks = [monday.strftime("%b %-d") for monday, _ in report.weeks]
    compliance = report.compliance
    return {
        "funnel": row_chart(
            "chart-funnel", f"Leads added ({report.period.label.lower()}) by status now",
            [(status_label(s), n, STATUS_CSS[s]) for s, n in report.by_status]),
        "won_lost": column_chart(
            "chart-won-lost", "Won and lost per month", months,
            [Series("won", "c4", [won for _, won, _ in report.months]),
             Series("lost", "c5", [lost for _, _, lost in report.months])]),
        "interactions": column_chart(
            "chart-interactions", "Interactions per week by type", weeks,
            [Series(kind, TYPE_CSS[kind], [counts[kind] for _, counts in report.weeks])
             for kind in report.interaction_types], stacked=True),
        "compliance": row_chart(
            "chart-compliance", "Follow-ups: done on time, done late, missed",
            [("Done on time", compliance.on_time, "c4"), ("Done late", compliance.late, "c3"),
             ("Missed", compliance.missed, "c5")]),
        "speed": row_chart(
            "chart-speed", "Speed to lead: time to first contact",
            [*((label, n, "c2") for label, n in report.speed.buckets),
             ("Not yet", report.speed.not_contacted, "c7")]),
    }
