"""The agent's settings by text or call: "alerts at night on", "nudges off", "settings".

Two switches (issue 19): `alerts_at_night` (a new-lead alert during quiet hours is texted at
once instead of held until morning) and `nudges` (the morning agenda's numbered suggestions).
A message is a setting only as a whole ("turn off nudges", "Nudges off."), so "no nudges for
Dana" or a note that mentions alerts is never read as one. `settings` alone asks what they are.
"""

from __future__ import annotations

import re

from webapp.understanding.plan import Plan

# setting name as said -> the `users` column that holds it
COLUMNS = {"alerts_at_night": "alerts_at_night", "nudges": "nudges_on"}
SETTINGS = tuple(COLUMNS)

_ON = r"(?:on|enabled?|yes|back on)"
_OFF = r"(?:off|disabled?|no|stop(?:ped)?)"
_WHAT = {
    "alerts_at_night": (r"(?:(?:new[- ]?)?leads? )?alerts? (?:at|during the|overnight|during) ?"
                        r"(?:night|nights|nighttime|quiet hours)|night(?:[- ]?time)? "
                        r"(?:new[- ]?lead )?alerts?|late[- ]night alerts?"),
    "nudges": r"(?:the |my |morning |daily )*(?:nudges?|suggestions?)",
}
SWITCHES = 'Text "alerts at night on" or "off", "nudges on" or "off".'
_LEAD = r"^(?:(?:please|pls|ok|okay|hey|can you|could you|i want to|i'd like to)\s+)*"
_TAIL = r"(?:\s+(?:please|pls|thanks|thank you|for me|now))*$"


def _shapes(what: str) -> list[tuple[re.Pattern[str], bool | None]]:
    """(pattern, value): value None means the switch word says it ("turn X on")."""
    turn = r"(?:turn|switch|set|put|toggle)"
    return [
        (re.compile(rf"{_LEAD}(?:{turn}\s+)?(?:{what})\s+(?P<v>{_ON}|{_OFF}){_TAIL}"), None),
        (re.compile(rf"{_LEAD}{turn}\s+(?P<v>on|off)\s+(?:{what}){_TAIL}"), None),
        (re.compile(rf"{_LEAD}(?:enable|allow|start|resume|send me|i want)\s+(?:{what}){_TAIL}"),
         True),
        (re.compile(rf"{_LEAD}(?:disable|stop|pause|mute|no more|don'?t send(?: me)?|"
                    rf"i don'?t want|no)\s+(?:{what}){_TAIL}"), False),
    ]


_SHAPES = {setting: _shapes(words) for setting, words in _WHAT.items()}
_SHOW = re.compile(rf"{_LEAD}(?:(?:show|what are)\s+)?(?:my\s+)?settings(?:\?)?{_TAIL}")


def _plain(text: str) -> str:
    text = text.strip().lower().replace("’", "'")
    text = re.sub(r"[.!,;:]+", " ", text)  # "Nudges off." / "Alerts at night, on" (speech)
    return re.sub(r"\s+", " ", text).strip()


def said_setting(text: str) -> Plan | None:
    """Kind `settings` when the whole message turns a setting on or off, or asks for them;
    `plan.settings` holds what to change ({} to show them). None for anything else."""
    if len(text) > 80:
        return None
    plain = _plain(text)
    if _SHOW.fullmatch(plain.rstrip("?").strip()):
        return Plan(kind="settings", reply=SWITCHES, settings={})
    for setting, shapes in _SHAPES.items():
        for pattern, value in shapes:
            found = pattern.fullmatch(plain)
            if found is None:
                continue
            if value is None:
                value = re.fullmatch(_ON, found.group("v")) is not None
            return Plan(kind="settings", reply=describe({setting: value}), settings={
                setting: value})
    return None


def describe(settings: dict[str, bool]) -> str:
    """What each setting now does, in the agent's words; also the reply of `assistant parse`."""
    lines = []
    for setting, value in settings.items():
        if setting == "alerts_at_night":
            lines.append("Alerts at night are on: a new lead is texted to you at once, even at "
                         "night." if value else
                         "Alerts at night are off: a new lead that comes in at night is texted "
                         "to you in the morning.")
        elif setting == "nudges":
            lines.append("Nudges are on: your morning agenda suggests up to 3 leads to act on."
                         if value else
                         'Nudges are off: your morning agenda lists follow-ups only. Text '
                         '"nudges on" to bring them back.')
    return "\n".join(lines)


def describe_short(settings: dict[str, bool]) -> str:
    """'alerts at night off, nudges on'."""
    words = {"alerts_at_night": "alerts at night", "nudges": "nudges"}
    return ", ".join(f"{words[s]} {'on' if v else 'off'}" for s, v in settings.items())


def current(agent: object) -> dict[str, bool]:
    """An agent's (a `users` row's) settings by the names they are said with."""
    return {name: getattr(agent, column) for name, column in COLUMNS.items()}
