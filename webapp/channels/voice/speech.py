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

from webapp.crm.answers import Answer
from webapp.crm.sms_budget import CUT
from webapp.understanding.plan import (
    Action,
    CancelFollowUp,
    CompleteFollowUp,
    CreateLead,
    DeleteTemplate,
    LogInteraction,
    RescheduleFollowUp,
    SaveTemplate,
    ScheduleFollowUp,
    UpdateLead,
    UpdateStatus,
)

CONFIRM_PROMPT = "Say yes to confirm or no to cancel, or press 1 for yes, 2 for no."
IS_THAT_RIGHT = "Is that right? Say yes or no, or press 1 for yes, 2 for no."
CHOICE_PROMPT = "Say the number, or press it on your keypad."
ANYTHING_ELSE = "Anything else?"
TEXTED_THE_REST = "I've texted you the rest."
FIRST_FEW = 3  # items of a list or briefing read aloud before the rest is texted
WHAT_TO_DO = "What would you like to do?"
GOODBYE = "Goodbye."
SAY_AGAIN = "Sorry, I missed that. Please say it again."
UNKNOWN_CALLER = (
    "Sorry, this number only works for registered Fieldline agents. Goodbye."
)
HELP = (
    "You can say things like: called John Doe, it went well. Mark John Doe as negotiating. "
    "Remind me to send the contract Friday at 2 PM. Move my 2 PM with John Doe to 4. "
    "New lead Jane Roe, 3 1 2, 5 5 5, 0 1 2 3. "
    "Brief me on John Doe. Or, what's on my agenda? "
    "Draft an email to John Doe about the offer. "
    "Save template L V, left a voicemail; then, called John Doe, L V. "
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
    if isinstance(action, RescheduleFollowUp):
        retitled = f", now to {action.title}" if action.title != action.old_title else ""
        return (f"Move {_follow_up(action.old_title, action.lead)}, from "
                f"{say_when(action.old_due_at, now)} to {say_when(action.due_at, now)}"
                f"{retitled}.")
    if isinstance(action, CancelFollowUp):
        return (f"Cancel {_follow_up(action.title, action.lead)}, "
                f"{say_when(action.due_at, now)}.")
    if isinstance(action, CompleteFollowUp):
        return f"Mark {_follow_up(action.title, action.lead)} as done."
    if isinstance(action, UpdateLead):
        said = []
        for field, value in action.changes().items():
            if field == "phone":
                said.append(f"phone to {say_phone(value)}")
            elif field == "email":
                said.append(f"email to {say_email(value)}")
            else:
                said.append(f"name to {value}")
        return f"Change {action.lead}'s " + ", and ".join(said) + "."
    if isinstance(action, SaveTemplate):
        verb = "Change" if action.old_text is not None else "Save"
        return f"{verb} the note template {action.template} to say: {_sentence(action.text)}"
    if isinstance(action, DeleteTemplate):
        return f"Delete the note template {action.template}."
    raise TypeError(f"not an action: {action!r}")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def say_draft(draft: dict, texted: bool) -> str:
    """An email draft by voice: whom it is for and its subject; the draft itself is texted
    (with the link to open it in mail), never read out whole."""
    lead = draft.get("lead") or "your lead"
    said = f"I've drafted an email to {lead}, subject: {_sentence(draft.get('subject') or '')}"
    if texted:
        return (f"{said} I've texted you the draft with a link to open it in your mail. "
                "Once you've sent it, say log it.")
    return f"{said} Texts from me are stopped, so open the web app to see it."


def _follow_up(title: str, lead: str) -> str:
    """'the follow-up to send comps, with Dana Cole' (the lead once, even if the title has it)."""
    named = lead.casefold() in title.casefold()
    default = title.casefold() == f"follow up with {lead}".casefold()
    if default:
        return f"the follow-up with {lead}"
    return f"the follow-up to {title}" + ("" if named else f", with {lead}")


MAX_NAMES_SAID = 5  # a run of actions on picked leads: the first few names, then a count


def _say_runs(actions: Sequence[Action], now: datetime) -> list[str]:
    """One sentence per action, or per run of the same change on several leads ("Set 13
    leads to follow up: Aaron Fisher, Beth Nolan, ... and 8 more.")."""
    out: list[str] = []
    i = 0
    while i < len(actions):
        first = actions[i]
        j = i + 1
        while j < len(actions) and _same_change(first, actions[j]):
            j += 1
        run = actions[i:j]
        if len(run) < 3:
            out.extend(say_action(a, now) for a in run)
        else:
            names = [getattr(a, "lead", "") for a in run]
            shown = ", ".join(names[:MAX_NAMES_SAID])
            more = f", and {len(names) - MAX_NAMES_SAID} more" if len(names) > MAX_NAMES_SAID \
                else ""
            if isinstance(first, UpdateStatus):
                out.append(f"Set {len(run)} leads to {say_status(first.status)}: {shown}{more}.")
            else:
                assert isinstance(first, ScheduleFollowUp)
                titles = [a.title for a in run if isinstance(a, ScheduleFollowUp)]
                more = f", and {len(titles) - MAX_NAMES_SAID} more" if len(
                    titles) > MAX_NAMES_SAID else ""
                out.append(f"Remind you {say_when(first.due_at, now)}, for {len(run)} leads: "
                           f"{', '.join(titles[:MAX_NAMES_SAID])}{more}.")
        i = j
    return out


def _same_change(a: Action, b: Action) -> bool:
    if isinstance(a, UpdateStatus) and isinstance(b, UpdateStatus):
        return a.status == b.status
    if isinstance(a, ScheduleFollowUp) and isinstance(b, ScheduleFollowUp):
        return a.due_at == b.due_at
    return False


def say_plan(actions: Sequence[Action], now: datetime, replaced: bool = False) -> str:
    """The plan read back before anything is written, ending with how to confirm."""
    head = "This replaces your earlier request. " if replaced else ""
    lines = " ".join(_say_runs(actions, now))
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
            parts.append(_say_reverted(effect, local_now))
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
        elif kind == "reschedule_follow_up":
            when = say_when(datetime.fromisoformat(effect["due_at"]), local_now)
            parts.append(f"Moved {effect['title']} to {when}.")
        elif kind == "cancel_follow_up":
            parts.append(f"Cancelled {effect['title']}, with {effect['lead']}.")
        elif kind == "complete_follow_up":
            parts.append(f"Marked {effect['title']} as done.")
        elif kind == "update_lead":
            if not effect.get("changes"):
                parts.append(f"{effect['lead']}'s details were already as you said.")
            else:
                parts.append(f"Updated {effect['lead']}'s {effect['fields']}.")
        elif kind == "save_template":
            parts.append(f"Saved the note template {effect['template']}.")
        elif kind == "delete_template":
            parts.append(f"Deleted the note template {effect['template']}.")
    if not parts:
        return "Done."
    return "Done. " + " ".join(parts)


def _say_reverted(effect: dict, now: datetime) -> str:
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
    if kind == "reschedule_follow_up":
        when = say_when(datetime.fromisoformat(effect["old_due_at"]), now)
        return f"Undone: {effect['old_title']} is back to {when}."
    if kind in ("cancel_follow_up", "complete_follow_up"):
        return f"Undone: reopened the follow-up, {effect['title']}."
    if kind == "update_lead":
        return f"Undone: {effect['lead']}'s {effect['fields']} put back."
    if kind == "save_template":
        return f"Undone: {effect['undo_done']}."
    if kind == "delete_template":
        return f"Undone: the note template {effect['template']} is back."
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
# 'Mar 5' (a day without its weekday); May is left alone: the word and the month are one
_MONTH_DAY = re.compile(r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2})\b")
_ISO = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?")
_PHONE = re.compile(r"\+\d[\d ().-]{6,}\d")  # '+1 773-555-0127' (display_phone's form)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
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
    text = _MONTH_DAY.sub(lambda m: f"{_MONTHS[m[1]]} {m[2]}", text)
    if now is not None:
        text = _ISO.sub(lambda m: say_when(datetime.fromisoformat(m[0]), now), text)
    text = _PHONE.sub(lambda m: say_phone("+" + re.sub(r"\D", "", m[0])), text)
    text = _EMAIL.sub(lambda m: say_email(m[0]), text)
    text = _CLOCK.sub(r"\1 \2", text)
    text = _PLURAL.sub(lambda m: f"{m[1]} {m[2]}" + ("" if m[1] == "1" else "s"), text)
    text = _NUMBERED_NEXT.sub(r". \1, ", text)
    text = _NUMBERED.sub(r"\1, ", text)
    text = _QUOTED_WORD.sub(lambda m: m[1], text)
    text = _SNAKE.sub(r"\1 \2", text)
    text = text.replace("->", " to ").replace("—", ",").replace("–", ",").replace("·", ",")
    text = text.replace("•", "\n").replace('"', "")
    text = _NOT_SPOKEN.sub(" ", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = " ".join(line if line[-1] in ".:!?;," else line + "." for line in lines[:-1])
    text = f"{text} {lines[-1]}" if lines else ""
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def say_answer(answer: Answer, now: datetime, texted: bool = True) -> tuple[str, bool]:
    """A query's answer for the ear, and whether some of it was left unsaid.

    A short answer is said whole. A list or a briefing is said briefly: its gist and the first
    FIRST_FEW items, then "I've texted you the rest" (the caller texts `answer.text`) — or,
    when no text can be sent (`texted` False), how many more there are."""
    left = answer.total - FIRST_FEW
    if not answer.head or (left <= 0 and CUT not in answer.text):
        return _sentence_end(speakable(answer.text, now)), False  # short and whole: as texted
    said = _sentence_end(speakable("\n".join([answer.head, *answer.items[:FIRST_FEW]]), now))
    if left <= 0:
        return said, False
    if texted:
        return f"{said} {TEXTED_THE_REST}", True
    return f"{said} And {left} more.", True


def _sentence_end(text: str) -> str:
    """A full stop where a list's last line had none, so what follows is a new sentence."""
    return text if not text or text.endswith((".", "!", "?", ":")) else text + "."


def _spoken_sms_date(m: re.Match[str]) -> str:
    hour, minute, meridiem = int(m[4]), m[5], m[6]
    clock = f"{hour} {meridiem}" if minute == "00" else f"{hour}:{minute} {meridiem}"
    return f"{_DAYS[m[1]]} {_MONTHS[m[2]]} {m[3]} at {clock}"


def first_name(full_name: str) -> str:
    parts = full_name.split()
    return parts[0] if parts else "there"


def greeting(name: str) -> str:
    return f"Hi {first_name(name)}, this is Fieldline. {WHAT_TO_DO}"
