"""How answers write days, times and follow-ups: short, in the agent's own zone.

"Thu Mar 5", "Mar 5", "2:00 PM", "Mon Mar 9, 2:00 PM" (the form plans use, `format_due`); the
year only when it is not the current one. A follow-up's default title ("Follow up with Dana
Cole") says nothing its lead's name does not, so lists leave it out.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from webapp.understanding.replies import format_due

__all__ = ["clock", "day", "day_short", "due", "purpose", "status_words"]


def _year(d: date, today: date) -> str:
    return "" if d.year == today.year else f" {d.year}"


def day(d: date, today: date) -> str:
    """'Thu Mar 5' (with ' 2025' when not this year)."""
    return f"{d:%a %b} {d.day}{_year(d, today)}"


def day_short(d: date, today: date) -> str:
    """'Mar 5' (with ' 2025' when not this year)."""
    return f"{d:%b} {d.day}{_year(d, today)}"


def clock(moment: datetime) -> str:
    """'2:00 PM'."""
    meridiem = "AM" if moment.hour < 12 else "PM"
    return f"{moment.hour % 12 or 12}:{moment:%M} {meridiem}"


def due(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    """'Mon Mar 9, 2:00 PM' in the agent's zone (with the year when not this one)."""
    local = moment.astimezone(zone)
    today = now.astimezone(zone).date()
    if local.year != today.year:
        return f"{day(local.date(), today)}, {clock(local)}"
    return format_due(local)


def purpose(title: str, lead_name: str) -> str:
    """The follow-up's purpose, or '' when its title is only the default one."""
    title = title.strip()
    return "" if title.casefold() == f"follow up with {lead_name}".casefold() else title


def status_words(status: str) -> str:
    """'closed_won' -> 'closed won'."""
    return status.replace("_", " ")
