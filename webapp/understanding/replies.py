"""The text the agent reads back: short, plain, GSM-7 where the names allow it.

An SMS segment holds 153 GSM-7 characters when a message is split (306 for two), but only 67
UCS-2 characters, and one non-GSM character (an em dash, a curly quote, an emoji) switches the
whole message to UCS-2. So replies use only plain ASCII punctuation; a lead's own name ("Chloë")
is the only thing that may force UCS-2.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from db.vocabulary import STATUSES
from webapp.phones import display_phone
from webapp.understanding.plan import (
    Action,
    CancelFollowUp,
    CompleteFollowUp,
    CreateLead,
    DeleteTemplate,
    LeadRef,
    LogInteraction,
    RescheduleFollowUp,
    SaveTemplate,
    ScheduleFollowUp,
    UpdateLead,
    UpdateStatus,
)

CONFIRM_TAIL = "Reply YES to confirm or NO to cancel."
EXAMPLES = (
    'Try: "Called Dana, went well", "Mark Dana qualified", '
    '"Remind me to call Dana tomorrow at 3", "New lead Jane Roe 312-555-0123". Text HELP for more.'
)
HELP = (  # three SMS segments at most: every line earns its place
    "Text me like a colleague:\n"
    '- "Called John Doe, went well"\n'
    '- "Mark John negotiating" (status)\n'
    '- "Remind me to send the contract Fri 2pm"\n'
    '- "Move my 2pm with John to 4"\n'
    '- "New lead Jane Roe 312-555-0123"\n'
    '- "Brief me on Dana", "agenda", "pipeline"\n'
    '- "save template lv: left a voicemail"\n'
    '- "Draft an email to Dana about the offer"\n'
    '- "nudges off", "alerts at night on"\n'
    "YES confirms, NO cancels, UNDO reverts. To a reminder: DONE or SNOOZE 1h."
)

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_segments(text: str) -> int:
    """How many SMS segments a reply costs (GSM-7 if every character fits, else UCS-2)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    return 1 if units <= 70 else -(-units // 67)


def format_due(due: datetime) -> str:
    """'Sat Mar 7, 10:00 AM': the day and time as the agent would say them."""
    meridiem = "AM" if due.hour < 12 else "PM"
    return f"{due:%a %b} {due.day}, {due.hour % 12 or 12}:{due:%M} {meridiem}"


def describe(action: Action) -> str:
    """One line per action, with every resolved value the agent should check."""
    if isinstance(action, UpdateStatus):
        old = f"{action.old_status} -> " if action.old_status else ""
        return f"Update {action.lead}: {old}{action.status}."
    if isinstance(action, LogInteraction):
        note = f": {action.note}" if action.note else ""
        kind = action.interaction_type
        what = "note for" if kind == "note" else f"{kind} with"
        return f"Log {what} {action.lead}{note}."
    if isinstance(action, ScheduleFollowUp):
        default = action.title.casefold() == f"follow up with {action.lead}".casefold()
        title = "" if default else f": {action.title}"
        return f"Follow up with {action.lead}{title} - {format_due(action.due_at)}."
    if isinstance(action, CreateLead):
        details = ", ".join(x for x in (action.phone, action.email) if x)
        return f"New lead {action.name}" + (f" ({details})." if details else ".")
    if isinstance(action, RescheduleFollowUp):
        retitled = f" as '{action.title}'" if action.title != action.old_title else ""
        return (f"Move '{action.old_title}' with {action.lead} from "
                f"{format_due(action.old_due_at)} to {format_due(action.due_at)}{retitled}.")
    if isinstance(action, CancelFollowUp):
        return f"Cancel '{action.title}' with {action.lead} ({format_due(action.due_at)})."
    if isinstance(action, CompleteFollowUp):
        return f"Mark done: '{action.title}' with {action.lead} ({format_due(action.due_at)})."
    if isinstance(action, UpdateLead):
        old = dict(action.old)
        parts = [f"{field} {_detail(field, old.get(field))} -> {_detail(field, value)}"
                 for field, value in action.changes().items()]
        return f"Update {action.lead}: {'; '.join(parts)}."
    if isinstance(action, SaveTemplate):
        if action.old_text is not None:
            return f'Change template "{action.template}": {action.old_text} -> {action.text}'
        return f'Save template "{action.template}": {action.text}'
    if isinstance(action, DeleteTemplate):
        return f'Delete template "{action.template}" ({action.text}).'
    raise TypeError(f"not an action: {action!r}")


def _detail(field: str, value: str | None) -> str:
    if not value:
        return "(none)"
    return display_phone(value) if field == "phone" else value


def plan_reply(actions: Sequence[Action], left_out: Sequence[str] = ()) -> str:
    """The plan, one line per action; then what was said but is in no action (nothing said
    disappears silently); then how to confirm."""
    lines = [describe(a) for a in actions]
    lines += [f'Not understood, so not saved: "{said}"' for said in left_out if said]
    return "\n".join(lines) + "\n" + CONFIRM_TAIL


def numbered(names: Sequence[str]) -> str:
    return " ".join(f"{i}) {n}" for i, n in enumerate(names, 1))


def ambiguous_lead(said: str, leads: Sequence[LeadRef]) -> str:
    return f'Which "{said}"? {numbered([lead.name for lead in leads])}. Reply with the number.'


def which_lead() -> str:
    return "Which lead is this for? Reply with their name."


def unknown_lead(said: str, suggestions: Sequence[LeadRef]) -> str:
    said = said.strip() or "that name"
    if suggestions:
        names = ", ".join(s.name for s in suggestions)
        return f'No lead named "{said}". Closest: {names}. Resend with the right name.'
    return f'No lead named "{said}". Text "New lead {said} <phone>" to add them.'


def unknown_status(said: str) -> str:
    said = said.strip()
    head = f'"{said}" is not a status.' if said else "Which status?"
    return f"{head} Pick one: {numbered(STATUSES)}"


def past_time(said: str, due: datetime | None) -> str:
    when = f" ({format_due(due)})" if due else ""
    return f'"{said}"{when} is already past. When should it be? e.g. "tomorrow at 3"'


def invalid_phone(said: str, name: str) -> str:
    return (
        f'"{said}" is not a valid phone number. Reply with {name}\'s number, '
        'or "no phone" to add them without one.'
    )


def missing_name() -> str:
    return "What is the new lead's name? e.g. \"New lead Jane Roe 312-555-0123\""


def lead_status(lead: LeadRef) -> str:
    return f"{lead.name} is {lead.status}."


def agenda_placeholder(day: str) -> str:
    return f"Your agenda for {day}:"


def leads_by_status_placeholder(status: str | None) -> str:
    return f"Your {status} leads:" if status else "Your leads:"


def reminder_done(number: int | None) -> str:
    """Placeholder: the conversation layer marks the reminder done and words the answer."""
    return f"Reminder #{number} done." if number else "Reminder done."


def reminder_snoozed(number: int | None, due: datetime) -> str:
    """Placeholder: the conversation layer moves the reminder and words the answer."""
    which = f"Reminder #{number}" if number else "Reminder"
    return f"{which} snoozed until {format_due(due)}."


def snooze_when() -> str:
    return 'Snooze until when? Try "SNOOZE 1h", "SNOOZE 30 min" or "SNOOZE tomorrow".'


def unknown(too_long: bool = False) -> str:
    head = "That message is too long for me." if too_long else "Sorry, I didn't get that."
    return f"{head} {EXAMPLES}"


def welcome() -> str:
    return "You're welcome! Text HELP any time for examples."


def cannot_yet() -> str:
    """For a request none of the commands carries out. It names only what is possible, so it
    stays true as commands are added."""
    return ("I can't do that yet. I can log calls, meetings, viewings, emails, texts and notes, "
            "change a lead's status, set follow-ups, add leads, and answer questions about your "
            "leads and agenda. Text HELP for examples.")


def carrier_keyword() -> str:
    return (
        "Messages are paused or resumed by your carrier keywords. "
        "Text START to resume, HELP for help."
    )


def confirm() -> str:
    return "Done."


def cancel() -> str:
    return "Cancelled. Nothing was changed."


def login() -> str:
    return "I'll text you a one-time link to sign in to the web app."


def undo() -> str:
    return "Undo the last change? Reply YES to confirm or NO to cancel."


# --- kind `noop`: every action would change nothing -----------------------------------------------

def already_in_status(lead: str, status: str) -> str:
    """'Dana Cole is already negotiating.' (the spec's words)."""
    return f"{lead} is already {status.replace('_', ' ')}."


def no_open_follow_up(lead: str | None = None, due: datetime | None = None,
                      time_only: bool = False, words: str | None = None) -> str:
    """No open follow-up fits what was said: 'No open follow-up with John Doe at 2:00 PM, so
    nothing to change.' `due` is the time said (`time_only`: only its clock time was said),
    `words` the title words said."""
    parts = ["No open follow-up"]
    if words:
        parts.append(f'about "{words}"')
    if lead:
        parts.append(f"with {lead}")
    if due is not None:
        meridiem = "AM" if due.hour < 12 else "PM"
        clock = f"{due.hour % 12 or 12}:{due:%M} {meridiem}"
        parts.append(f"at {clock}" if time_only else f"on {format_due(due)}")
    return " ".join(parts) + ", so nothing to change."


def nobody_picked(said: str) -> str:
    """A selector that picks no lead: 'No leads match "all my contacted leads", so nothing to
    change.'"""
    return f'No leads match "{said.strip()}", so nothing to change.'


def with_left_out(reply: str, reasons: Sequence[str]) -> str:
    """A plan's reply with the no-op actions it leaves out and why, before the YES prompt:
    'Update John Doe: contacted -> qualified.\\nLeft out: Dana Cole is already negotiating.\\n
    Reply YES ...'."""
    if not reasons:
        return reply
    note = "Left out: " + " ".join(reasons)
    if reply.endswith(CONFIRM_TAIL):
        return reply[: -len(CONFIRM_TAIL)] + note + "\n" + CONFIRM_TAIL
    return f"{reply}\n{note}"


# --- Reading and changing what is there (issue 16) ----------------------------------------------

_QUERY_PLACEHOLDERS = {
    "lead_brief": "Briefing on {lead}:",
    "follow_ups": "Your follow-ups:",
    "pipeline": "Your pipeline:",
    "stats": "Your stats:",
    "suggestions": "Leads to act on:",
}


def query_placeholder(kind: str, lead: str | None = None) -> str:
    """Placeholder: the conversation answers the question from the database."""
    if kind == "follow_ups" and lead:
        return f"Your follow-ups with {lead}:"
    return _QUERY_PLACEHOLDERS.get(kind, "").format(lead=lead or "")


def which_follow_up(options: Sequence[str], total: int) -> str:
    more = f" (and {total - len(options)} more: say which more precisely)" if total > len(
        options) else ""
    return f"Which follow-up? {numbered(options)}{more}. Reply with the number."


def which_follow_up_said() -> str:
    return ('Which follow-up? Say the lead or the time, e.g. "move my 2pm with Dana Cole to 4" '
            'or "cancel the follow-up with Dana Cole".')


def move_when(lead: str, title: str) -> str:
    return (f"Move '{title}' with {lead} to when? e.g. \"Friday at 3\", \"tomorrow\" or "
            "\"an hour later\".")


def move_forward(said: str) -> str:
    return (f'"{said}": earlier or later? Say e.g. "an hour earlier", "a day later" or '
            '"Friday at 3".')


def already_due(lead: str, title: str, due: datetime) -> str:
    return f"'{title}' with {lead} is already due {format_due(due)}."


def already_detail(lead: str, field: str, value: str) -> str:
    shown = display_phone(value) if field == "phone" else value
    return f"{lead}'s {field} is already {shown}."


def invalid_new_phone(said: str, name: str) -> str:
    head = f'"{said}" is not a valid phone number.' if said else "Which number?"
    return f"{head} Reply with {name}'s new number."


def invalid_email(said: str, name: str) -> str:
    head = f'"{said}" is not a valid email address.' if said else "Which email address?"
    return f"{head} Reply with {name}'s new email."


def what_detail(name: str) -> str:
    return (f"What should change for {name}? e.g. \"{name}'s new number is 312-555-0123\" or "
            f"\"change {name}'s email to name@example.com\".")


def plan_reply_with(actions: Sequence[Action], bulk: dict[int, str],
                    not_understood: Sequence[str] = ()) -> str:
    """`plan_reply`, with a run of actions picked by one selector ("all my new leads")
    counted and named in one line."""
    lines: list[str] = []
    i = 0
    while i < len(actions):
        group = bulk.get(id(actions[i]))
        j = i + 1
        while (group is not None and j < len(actions) and bulk.get(id(actions[j])) == group
               and type(actions[j]) is type(actions[i])):
            j += 1
        run = list(actions[i:j])
        lines.append(describe_many(run) if len(run) > 1 else describe(run[0]))
        i = j
    lines += [f'Not understood, so not saved: "{said}"' for said in not_understood if said]
    return "\n".join(lines) + "\n" + CONFIRM_TAIL


def describe_many(actions: Sequence[Action]) -> str:
    """One line for the same action on several picked leads, counted and named."""
    first = actions[0]
    names = ", ".join(getattr(a, "lead", "") for a in actions)
    n = len(actions)
    if isinstance(first, UpdateStatus) and all(isinstance(a, UpdateStatus)
                                               and a.status == first.status for a in actions):
        return f"Update {n} leads to {first.status}: {names}."
    if isinstance(first, ScheduleFollowUp) and all(
            isinstance(a, ScheduleFollowUp) and a.due_at == first.due_at for a in actions):
        titles = "; ".join(a.title for a in actions if isinstance(a, ScheduleFollowUp))
        return f"Follow up with {n} leads - {format_due(first.due_at)}: {titles}."
    if isinstance(first, LogInteraction):
        note = f": {first.note}" if first.note else ""
        return f"Log {first.interaction_type} with {n} leads ({names}){note}."
    return "\n".join(describe(a) for a in actions)
