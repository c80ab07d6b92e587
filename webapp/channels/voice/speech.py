"""Words for the ear: plans, results and replies as a phone voice should say them.

The SMS replies are written for reading (ISO-free but terse, with "Reply YES", bullets, quotes,
emoji, "10:00 AM"). Read aloud by text-to-speech those sound wrong or say the wrong thing ("reply
yes" on a call), so the voice channel words a plan from the parsed actions themselves and passes
every other reply through `speakable`. Nothing here decides anything: it only words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import phonenumbers

from webapp.understanding.plan import (
    Action,
    CreateLead,
    LogInteraction,
    ScheduleFollowUp,
    UpdateStatus,
)

CONFIRM_PROMPT = "Say yes to confirm or no to cancel, or press 1 for yes, 2 for no."
IS_THAT_RIGHT = "Is that right? Say yes or no, or press 1 for yes, 2 for no."
CHOICE_PROMPT = "Say the number, or press it on your keypad."
ANYTHING_ELSE = "Anything else?"
WHAT_TO_DO = "What would you like to do?"
GOODBYE = "Goodbye."
SAY_AGAIN = "Sorry, I missed that. Please say it again."
UNKNOWN_CALLER = (
    "Sorry, this number only works for registered Fieldline agents. Goodbye."
)
HELP = (
    "You can say things like: called John Doe, it went well. Mark John Doe as negotiating. "
    "Remind me to send the contract Friday at 2 PM. New lead Jane Roe, 3 1 2, 5 5 5, 0 1 2 3. "
    "What's John Doe's status? Or, what's on my agenda? "
    "I always read the change back first; say yes to confirm or no to cancel. "
    "Say undo to revert your last change."
)
UNKNOWN = (
    "Sorry, I didn't get that. You can say things like: called Dana Cole, went well. "
    "Or, mark Dana Cole as qualified. Say help for more."
)

_INTERACTION_NOUN = {
    "call": "a call",
    "meeting": "a meeting",
    "viewing": "a viewing",
    "email": "an email",
    "text": "a text",
}
_DAYS = {"Mon": "Monday", "Tue": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday",
         "Fri": "Friday", "Sat": "Saturday", "Sun": "Sunday"}
_MONTHS = {"Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "May": "May",
           "Jun": "June", "Jul": "July", "Aug": "August", "Sep": "September",
           "Oct": "October", "Nov": "November", "Dec": "December"}


# --- times, statuses, numbers ----------------------------------------------------------------

def say_time(moment: datetime) -> str:
    """'2 PM', '2:30 PM', 'noon', 'midnight': how a person says a clock time."""
    if moment.minute == 0:
        if moment.hour == 12:
            return "noon"
        if moment.hour == 0:
            return "midnight"
    meridiem = "AM" if moment.hour < 12 else "PM"
    hour = moment.hour % 12 or 12
    return f"{hour} {meridiem}" if moment.minute == 0 else f"{hour}:{moment:%M} {meridiem}"


def say_day(day: date, today: date) -> str:
    """'today', 'tomorrow', else 'Friday March 6' (with the year only when it is not this one)."""
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    year = f" {day.year}" if day.year != today.year else ""
    return f"{day:%A %B} {day.day}{year}"


def say_when(moment: datetime, now: datetime) -> str:
    """'tomorrow at 2 PM', 'Friday March 6 at 10 AM', in `now`'s time zone."""
    local = moment.astimezone(now.tzinfo) if now.tzinfo else moment
    return f"{say_day(local.date(), now.date())} at {say_time(local)}"


def say_status(status: str) -> str:
    return status.replace("_", " ")


def say_phone(e164: str) -> str:
    """Digits in the groups a person reads them: '3 1 2, 5 5 5, 0 1 2 3'."""
    try:
        number = phonenumbers.parse(e164, None)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        national = e164
    groups = re.findall(r"\d+", national)
    return ", ".join(" ".join(group) for group in groups)


def say_email(email: str) -> str:
    return email.replace("@", " at ").replace(".", " dot ")


# --- plans and results -----------------------------------------------------------------------

def say_action(action: Action, now: datetime) -> str:
    """One spoken sentence per action, with every value the agent should check by ear."""
    if isinstance(action, UpdateStatus):
        if action.old_status and action.old_status != action.status:
            return (f"Change {action.lead}'s status from {say_status(action.old_status)} "
                    f"to {say_status(action.status)}.")
        return f"Set {action.lead}'s status to {say_status(action.status)}."
    if isinstance(action, LogInteraction):
        note = f": {action.note}" if action.note else ""
        if action.interaction_type == "note":
            return f"Add a note for {action.lead}{note}."
        noun = _INTERACTION_NOUN.get(action.interaction_type, action.interaction_type)
        return f"Log {noun} with {action.lead}{note}."
    if isinstance(action, ScheduleFollowUp):
        when = say_when(action.due_at, now)
        default = action.title.casefold() == f"follow up with {action.lead}".casefold()
        if default:
            return f"Remind you to follow up with {action.lead} {when}."
        named = action.lead.casefold() in action.title.casefold()
        return f"Remind you {when} to {action.title}" + ("." if named else f", for {action.lead}.")
    if isinstance(action, CreateLead):
        parts = [f"Add a new lead, {action.name}"]
        if action.phone:
            parts.append(f"phone {say_phone(action.phone)}")
        if action.email:
            parts.append(f"email {say_email(action.email)}")
        return ", ".join(parts) + "."
    raise TypeError(f"not an action: {action!r}")


def say_plan(actions: Sequence[Action], now: datetime, replaced: bool = False) -> str:
    """The plan read back before anything is written, ending with how to confirm."""
    head = "This replaces your earlier request. " if replaced else ""
    lines = " ".join(say_action(a, now) for a in actions)
    intro = "Here's what I'll do. " if len(actions) > 1 else "I'll "
    if len(actions) == 1:
        first = lines[:1].lower() + lines[1:]
        return f"{head}{intro}{first} {CONFIRM_PROMPT}"
    return f"{head}{intro}{lines} {CONFIRM_PROMPT}"


def say_result(effects: Sequence[dict], zone: ZoneInfo, now: datetime) -> str:
    """What an executed plan did, from the worker's own record of its effects."""
    local_now = now.astimezone(zone)
    parts: list[str] = []
    for effect in effects:
        kind = effect.get("type")
        if effect.get("reverted"):
            parts.append(_say_reverted(effect))
        elif kind == "update_status":
            if effect.get("history_id") is None:
                parts.append(f"{effect['lead']} was already {say_status(effect['new_status'])}.")
            else:
                parts.append(f"{effect['lead']} is now {say_status(effect['new_status'])}.")
        elif kind == "log_interaction":
            kind_said = effect["interaction_type"]
            if kind_said == "note":
                parts.append(f"Added the note for {effect['lead']}.")
            else:
                parts.append(f"Logged the {kind_said} with {effect['lead']}.")
        elif kind == "schedule_follow_up":
            when = say_when(datetime.fromisoformat(effect["due_at"]), local_now)
            parts.append(f"I'll remind you {when}: {effect['title']}.")
        elif kind == "create_lead":
            parts.append(f"Added {effect['lead']} as a new lead.")
    if not parts:
        return "Done."
    return "Done. " + " ".join(parts)


def _say_reverted(effect: dict) -> str:
    """An effect an undo reverted (`webapp.execution.plans` marks it `reverted`)."""
    kind = effect["type"]
    if kind == "update_status":
        return f"Undone: {effect['lead']} is back to {say_status(effect['old_status'])}."
    if kind == "log_interaction":
        return f"Undone: removed the {effect['interaction_type']} with {effect['lead']}."
    if kind == "schedule_follow_up":
        return f"Undone: cancelled the follow-up, {effect['title']}."
    if kind == "create_lead":
        return f"Undone: removed the new lead {effect['lead']}."
    return "Undone."


# --- any other reply -------------------------------------------------------------------------

_REPLACEMENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Reply YES to confirm or NO to cancel\.?", re.I), CONFIRM_PROMPT),
    (re.compile(r"reply YES again", re.I), "say yes again"),
    (re.compile(r"Reply with the number\.?", re.I), CHOICE_PROMPT),
    (re.compile(r"Reply with ", re.I), "Say "),
    (re.compile(r"Resend with the right name\.?", re.I), "Say it again with the right name."),
    (re.compile(r"\bText HELP for more\.?", re.I), "Say help for more."),
    (re.compile(r"\bText (?=\")", re.I), "Say "),
)
# 'Sat Mar 7, 10:00 AM' (the SMS replies' date form)
_SMS_DATE = re.compile(
    r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{1,2}),? (\d{1,2}):(\d\d) ?([AP]M)\b"
)
_SMS_DAY = re.compile(
    r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{1,2})\b"
)
_ISO = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?")
_PLURAL = re.compile(r"\b(\d+) (\w+)\(s\)")  # "1 lead(s)" -> "1 lead", "3 leads"
_CLOCK = re.compile(r"\b(\d{1,2}):00 ?([AP]M)\b")
_NUMBERED = re.compile(r"(?:(?<=\s)|^)(\d{1,2})\) ")
_NUMBERED_NEXT = re.compile(r"(?<=[^\W\d_])\s+(\d{1,2})\) ")  # "1) John Doe 2) ..." -> ". 2, "
_QUOTED_WORD = re.compile(r"'([a-z_]+)'")
_SNAKE = re.compile(r"\b([a-z]+)_([a-z]+)\b")
_NOT_SPOKEN = re.compile(r"[^\w\s.,;:!?'\"()/&@+#%$-]")


def speakable(text: str, now: datetime | None = None) -> str:
    """`text` as words to say: no emoji, bullets, quotes, ISO stamps or 'Reply YES'."""
    for pattern, spoken in _REPLACEMENTS:
        text = pattern.sub(spoken, text)
    text = _SMS_DATE.sub(_spoken_sms_date, text)
    text = _SMS_DAY.sub(lambda m: f"{_DAYS[m[1]]} {_MONTHS[m[2]]} {m[3]}", text)
    if now is not None:
        text = _ISO.sub(lambda m: say_when(datetime.fromisoformat(m[0]), now), text)
    text = _CLOCK.sub(r"\1 \2", text)
    text = _PLURAL.sub(lambda m: f"{m[1]} {m[2]}" + ("" if m[1] == "1" else "s"), text)
    text = _NUMBERED_NEXT.sub(r". \1, ", text)
    text = _NUMBERED.sub(r"\1, ", text)
    text = _QUOTED_WORD.sub(lambda m: m[1], text)
    text = _SNAKE.sub(r"\1 \2", text)
    text = text.replace("->", " to ").replace("—", ",").replace("–", ",")
    text = text.replace("•", "\n").replace('"', "")
    text = _NOT_SPOKEN.sub(" ", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = " ".join(line if line[-1] in ".:!?;," else line + "." for line in lines[:-1])
    text = f"{text} {lines[-1]}" if lines else ""
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def _spoken_sms_date(m: re.Match[str]) -> str:
    hour, minute, meridiem = int(m[4]), m[5], m[6]
    clock = f"{hour} {meridiem}" if minute == "00" else f"{hour}:{minute} {meridiem}"
    return f"{_DAYS[m[1]]} {_MONTHS[m[2]]} {m[3]} at {clock}"


def first_name(full_name: str) -> str:
    parts = full_name.split()
    return parts[0] if parts else "there"


def greeting(name: str) -> str:
    return f"Hi {first_name(name)}, this is Fieldline. {WHAT_TO_DO}"
