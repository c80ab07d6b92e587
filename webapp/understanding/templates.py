"""Note templates (issue 19): short names for notes an agent types often, by text or voice.

    "save template lv: left a voicemail, will try again tomorrow"   -> save_template (a plan)
    "Called Dana, lv"                   -> a call logged with the note "left a voicemail, ..."
    "templates"                         -> query {"type": "templates"} (the list)
    "delete template lv"                -> delete_template (a plan)

Saving and deleting are plans confirmed by YES, like every other change: the reply shows the
name and the text exactly as they will be used, so a wrong shorthand never starts filling notes
unseen; YES runs it through the same execution (audit, UNDO), and the web app's settings page
runs the same actions without the YES.

A template is written out where a note goes: a note that is only the name, or a comma- or
semicolon-separated piece of one that is ("lv, she sounded busy"), in any case; one pass, so a
template's text is never expanded again. Only the note: a follow-up's title or a lead's name is
never touched. By voice a name may come spelled out ("l v") or in capitals ("LV"): `prepare`
writes those as the name before the message is read, so "LV" is not taken for a person.

Saving what a template already says, or deleting one that is not there, is kind `noop`.

Names are one word of 2 to 20 letters, digits, "-" or "_", and never shadow what the assistant
already reads (refused with the reason, kind `clarify`): a word of a lead's name, a command or
reply word (yes, help, done, snooze, agenda, ...), a status, a time word, an interaction word,
or shorthand the parser spells out ("vm" is "voicemail"). A lead added later whose name is a
template's name wins: a piece of a note that is a lead's name word is left as written.

Pure: the templates come from `AgentContext.templates`, a callable read only when a message
needs them (a template command, a note to write out, a capitalized or spelled-out word).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from db.vocabulary import INTERACTION_TYPES, STATUSES
from webapp.understanding.intents import detect_intent
from webapp.understanding.interactions import find_cue
from webapp.understanding.lead_names import LeadDirectory, fold_name
from webapp.understanding.normalize import fold, normalize
from webapp.understanding.plan import Action, DeleteTemplate, LogInteraction, Plan, SaveTemplate
from webapp.understanding.questions import match_query
from webapp.understanding.reminder_replies import match_reminder_reply
from webapp.understanding.replies import plan_reply
from webapp.understanding.statuses import canonical_status
from webapp.understanding.when import find_when

Templates = Mapping[str, str]  # name (lowercase) -> text


class AgentContext(Protocol):
    """What templates read of `parser.AgentContext`."""

    leads: LeadDirectory
    templates: Callable[[], Templates]


MIN_NAME = 2
MAX_NAME = 20
MAX_TEXT = 300
MAX_TEMPLATES = 50
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{1,19}")
EXAMPLE = '"save template lv: left a voicemail, will try again tomorrow"'

# Words the assistant reads as commands, answers or the glue of one; never a template's name.
COMMAND_WORDS = frozenset(
    "template templates save delete remove add new create update change edit mark set move "
    "cancel undo redo help yes no ok okay done snooze later remind reminder schedule book "
    "follow followup log note notes lead leads client status agenda pipeline stats brief draft "
    "write login link web dashboard stop start unsubscribe quit end all everyone week month "
    "next this last it that them him her his hers she he "
    "they their me my you your we our us i a an the and or but to of for with on in at by from "
    "about as is was are be".split()
)
# Parts of the day the time words lean on ("tomorrow morning"), beyond what `find_when` reads.
TIME_WORDS = frozenset("morning mornings afternoon evening night weekend later soon asap eow "
                       "midnight".split())
_SAVE = re.compile(
    r"^\s*(?:(?:please|pls|can you|could you|hey)\s+)?"
    r"(?:(?:save|add|create|make|store|set up|set|new|update|change|edit|replace)\s+"
    r"(?:(?:a|an|the|my|this)\s+)?(?:new\s+)?(?:note\s+)?template|(?:note\s+)?template)\b"
    r"(?:\s+(?:called|named|for))?\s*[:=-]?\s*(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_DELETE = re.compile(
    r"^\s*(?:(?:please|pls|can you|could you)\s+)?(?:delete|remove|erase|forget|drop|"
    r"get rid of|scrap|trash)\s+(?:(?:the|my)\s+)?(?:note\s+)?"
    r"(?:templates?\s+(?:called\s+|named\s+)?(?P<name>[^\s.!?]+(?:\s[a-z](?=\s|$))*)"
    r"|(?P<name2>[^\s.!?]+)\s+(?:note\s+)?template)\s*[.!]*\s*$",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"^\s*(?:(?:please|pls)\s+)?(?:(?:show|list|see|view|send|text|give|read)\s+(?:me\s+)?"
    r"(?:(?:all|all of)\s+)?|what\s+(?:are\s+)?|which\s+)?(?:my\s+|the\s+)?(?:note\s+)?"
    r"templates(?:\s+(?:do\s+i\s+have|have\s+i\s+(?:got|saved)|i\s+have|i've\s+saved))?"
    r"(?:\s+(?:please|pls))?\s*[?.!]*\s*$",
    re.IGNORECASE,
)
# What may stand between a new template's name and its text.
_SEPARATOR = re.compile(r"^\s*(?:[:=,\u2013\u2014-]+|\bcolon\b|\bas\b|\bto\b|\bsays?\b|"
                        r"\bis\b|\bmeans\b)?\s*", re.IGNORECASE)
_SPELLED = re.compile(r"(?<![\w'])[a-zA-Z](?: [a-zA-Z]){1,9}(?![\w'])")
_CAPITALS = re.compile(r"(?<![\w'])(?=[A-Z0-9_-]*[A-Z])[A-Z0-9][A-Z0-9_-]{1,19}(?![\w'])")
_PIECES = re.compile(r"(\s*[,;]\s*)")
_QUOTES = "\"'\u201c\u201d\u2018\u2019`"
_ANY_DAY = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # any "now": only words are checked


def no_templates() -> Templates:
    return {}


# --- the commands -------------------------------------------------------------------------------


def command(raw: str, ctx: AgentContext) -> Plan | None:
    """The plan for a template command (save, delete, list), or None for any other message."""
    text = (raw or "").strip()
    if "template" not in text.casefold():
        return None
    if _LIST.match(text):
        return listing(ctx.templates())
    deleted = _DELETE.match(text)
    if deleted:
        return _delete(_name_said(deleted.group("name") or deleted.group("name2")), ctx)
    saved = _SAVE.match(text)
    if saved:
        return _save(saved.group("rest"), ctx)
    return None


def listing(templates: Templates) -> Plan:
    return Plan(kind="query", reply=listing_text(templates), query={"type": "templates"})


def listing_text(templates: Templates) -> str:
    """'Your 2 note templates:\\nlv: left a voicemail...' or how to save one."""
    if not templates:
        return f"You have no note templates yet. Save one: {EXAMPLE}."
    noun = "1 note template" if len(templates) == 1 else f"{len(templates)} note templates"
    lines = [f"{name}: {text}" for name, text in sorted(templates.items())]
    first = sorted(templates)[0]
    return "\n".join([f"Your {noun}:", *lines, f'Use one in a note: "Called Dana, {first}".'])


def _save(rest: str, ctx: AgentContext) -> Plan:
    rest = rest.strip()
    name, after = _split_name(rest)
    if not name:
        return _refused(f"Which name and text? e.g. {EXAMPLE}.")
    templates = ctx.templates()
    problem = name_problem(name, ctx, templates)
    if problem:
        return _refused(problem)
    said = _SEPARATOR.sub("", after, count=1)
    text = clean_text(said)
    if not text:
        return _refused(f'What should "{name}" say? e.g. "save template {name}: left a '
                        'voicemail, will try again tomorrow".')
    if len(text) > MAX_TEXT:
        return _refused(f"A template holds at most {MAX_TEXT} characters; that one has "
                        f"{len(text)}. Shorten it and send it again.")
    old = templates.get(name)
    if old == text:
        return Plan(kind="noop", reply=f'"{name}" already says: {text}')
    if old is None and len(templates) >= MAX_TEMPLATES:
        return _refused(f"You have {MAX_TEMPLATES} templates, the most there can be. Delete one "
                        'first ("delete template <name>").')
    action = SaveTemplate(name, text, old)
    return Plan(kind="plan", reply=plan_reply([action]), actions=[action])


def _delete(name: str, ctx: AgentContext) -> Plan:
    templates = ctx.templates()
    if name not in templates:
        have = ", ".join(sorted(templates)) if templates else "none yet"
        return Plan(kind="noop", reply=f'You have no template "{name}", so nothing to delete. '
                                       f"Your templates: {have}.")
    action = DeleteTemplate(name, templates[name])
    return Plan(kind="plan", reply=plan_reply([action]), actions=[action])


def _refused(reason: str) -> Plan:
    """Nothing is offered; the reply says why and how to say it instead (no continuation: the
    agent sends the request again)."""
    return Plan(kind="clarify", reply=reason)


def _split_name(rest: str) -> tuple[str, str]:
    """The name said first ("lv", '"lv"', spelled out "l v") and what follows it."""
    rest = rest.lstrip(_QUOTES + " ")
    spelled = re.match(r"([a-zA-Z](?: [a-zA-Z]){1,9})(?=\s|[:=,-]|$)", rest)
    if spelled and " " in spelled.group(1):
        return spelled.group(1).replace(" ", "").lower(), rest[spelled.end():]
    m = re.match(r"([^\s:=,\u2013\u2014" + _QUOTES + r"]+)[" + _QUOTES + r"]?", rest)
    if not m:
        return "", rest
    return _name_said(m.group(1)), rest[m.end():]


def _name_said(said: str | None) -> str:
    return re.sub(r"\s+", "", (said or "").strip(_QUOTES + " .!?")).casefold()


def clean_text(said: str) -> str:
    """A template's text as stored: spaces collapsed, surrounding quotes dropped."""
    text = " ".join((said or "").split())
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text.rstrip(" ,;")


# --- which names may be used ------------------------------------------------------------------


def name_problem(name: str, ctx: AgentContext | None,
                 templates: Templates | None = None) -> str | None:
    """Why `name` (lowercase) cannot name a template, in words for the agent; None if it can.

    With `ctx`, a word of one of the agent's leads' names is refused too."""
    if not NAME.fullmatch(name) or not re.search(r"[a-z]", name):
        return (f'A template name is one word of {MIN_NAME} to {MAX_NAME} letters or digits, '
                f"e.g. {EXAMPLE}.")
    clash = command_clash(name)
    if clash:
        return f'"{name}" {clash}, so it can\'t name a template. Pick another name.'
    if ctx is not None:
        lead = lead_named(name, ctx)
        if lead:
            return (f'"{name}" is in the name of your lead {lead}, so it can\'t name a template. '
                    "Pick another name.")
    return None


def command_clash(name: str) -> str | None:
    """What the assistant already reads `name` as ("is a status"), or None."""
    if name in COMMAND_WORDS or detect_intent(name) is not None:
        return "is a word I read as a command"
    if name in STATUSES or canonical_status(name) is not None:
        return "is a status"
    if name in INTERACTION_TYPES or find_cue(name) is not None:
        return "is a word I read as a call, meeting, email or note"
    if match_query(name) is not None or match_reminder_reply(name) is not None:
        return "is a word I read as a command"
    if name in TIME_WORDS or find_when(name, _ANY_DAY) is not None:
        return "is a time word"
    spelled = normalize(name).strip().casefold()
    if spelled != name:
        return f'already means "{spelled}" to me' if spelled else "is a word I skip"
    return None


def lead_named(name: str, ctx: AgentContext) -> str | None:
    """The full name of a lead whose name has `name` as a word, or None."""
    folded = fold_name(name)
    if not ctx.leads.is_name_word(folded):
        return None
    for mention in ctx.leads.find_mentions(name):
        for lead in mention.leads:
            if folded in fold_name(lead.name).split():
                return lead.name
    found = ctx.leads.resolve(name)
    return found[0].name if found else name


def lead_name_words(names: Iterable[str]) -> set[str]:
    """Every word of these lead names, folded: for a check without a LeadDirectory (import)."""
    return {word for name in names for word in re.findall(r"[^\W\d_]+", fold_name(name))}


# --- writing them out ---------------------------------------------------------------------------


def prepare(raw: str, templates: Callable[[], Templates]) -> str:
    """`raw` with a template name said in capitals ("LV") or spelled out ("l v") written as
    the name, so the parser does not read it as a person or as stray letters. The templates are
    read only when such a word is there."""
    if not raw or not (_CAPITALS.search(raw) or _SPELLED.search(raw)):
        return raw
    names = templates()
    if not names:
        return raw

    def spelled(m: re.Match[str]) -> str:
        joined = m.group().replace(" ", "").casefold()
        return joined if joined in names else m.group()

    def capitals(m: re.Match[str]) -> str:
        low = m.group().casefold()
        return low if low in names else m.group()

    return _CAPITALS.sub(capitals, _SPELLED.sub(spelled, raw))


def expand_notes(actions: Sequence[Action], ctx: AgentContext) -> list[Action]:
    """Each logged note with its template names written out (see the module doc)."""
    out = list(actions)
    if not any(isinstance(a, LogInteraction) and _may_hold_a_name(a.note) for a in out):
        return out
    templates = ctx.templates()
    if not templates:
        return out
    for i, action in enumerate(out):
        if isinstance(action, LogInteraction) and action.note:
            note = expand_note(action.note, templates, ctx.leads.is_name_word)
            if note != action.note:
                out[i] = replace(action, note=note)
    return out


def expand_note(note: str, templates: Templates,
                is_lead_word: Callable[[str], bool] = lambda _w: False) -> str:
    """`note` with every piece that is a template's name replaced by the template's text."""
    parts = _PIECES.split(note)
    for i in range(0, len(parts), 2):
        key = _piece_key(parts[i])
        if key in templates and not is_lead_word(fold_name(key)):
            parts[i] = templates[key]
    return "".join(parts)


def _piece_key(piece: str) -> str:
    word = piece.strip().strip(_QUOTES + ".!?")
    if re.fullmatch(r"[a-zA-Z](?: [a-zA-Z]){1,9}", word):
        word = word.replace(" ", "")
    return fold(word)


def _may_hold_a_name(note: str) -> bool:
    """Cheap: is some piece of the note a single word (or spelled letters)?"""
    return any(len(key) <= MAX_NAME and NAME.fullmatch(key)
               for key in map(_piece_key, _PIECES.split(note or "")[::2]))
