"""How the web app writes instants, durations and words: in the agent's own zone, short."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from webapp.phones import display_phone


def when(moment: datetime | None, zone: ZoneInfo, now: datetime) -> str:
    """'Today 2:00 PM', 'Yesterday 9:15 AM', 'Tue Mar 3, 2:00 PM', 'Mar 3 2025, 2:00 PM'."""
    if moment is None:
        return "—"
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    clock = local.strftime("%-I:%M %p")
    if local.date() == today:
        return f"Today {clock}"
    if local.date() == today - timedelta(days=1):
        return f"Yesterday {clock}"
    if local.date() == today + timedelta(days=1):
        return f"Tomorrow {clock}"
    if local.year != today.year:
        return local.strftime("%b %-d %Y, ") + clock
    return local.strftime("%a %b %-d, ") + clock


def clock(moment: datetime, zone: ZoneInfo) -> str:
    """'2:00 PM' in the agent's zone."""
    return moment.astimezone(zone).strftime("%-I:%M %p")


def day(moment: datetime | None, zone: ZoneInfo, now: datetime) -> str:
    """'today', 'yesterday', 'tomorrow', 'Mar 3' or 'Mar 3 2025': for a lead card."""
    if moment is None:
        return "never"
    local, today = moment.astimezone(zone).date(), now.astimezone(zone).date()
    if local == today:
        return "today"
    if local == today - timedelta(days=1):
        return "yesterday"
    if local == today + timedelta(days=1):
        return "tomorrow"
    return local.strftime("%b %-d" if local.year == today.year else "%b %-d %Y")


def duration(seconds: float | None) -> str:
    """'42 min', '3.5 h', '2.1 days' (a median's resolution, not a stopwatch's)."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def status_label(status: str) -> str:
    """'closed_won' -> 'Closed won'."""
    return status.replace("_", " ").capitalize()


def phone(value: str | None) -> str:
    return display_phone(value) if value else ""
