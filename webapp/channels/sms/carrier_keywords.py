"""Carrier keywords (STOP, START, HELP and their kin), handled before any command parsing.

US carriers require these to work whatever else the number does. They are single-word messages;
"stop" inside a sentence is ordinary text. CANCEL is left out on purpose: the spec makes it the
`cancel` command (configure the Twilio Messaging Service's opt-out keywords to match; README).
"""

from __future__ import annotations

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP", "SUBSCRIBE"})
OPT_IN_WHEN_OPTED_OUT = frozenset({"YES"})  # Twilio re-subscribes on YES only after a STOP
HELP = frozenset({"HELP", "INFO"})

OPTED_OUT_REPLY = (
    "You're unsubscribed from Fieldline texts and will get no more messages. Reply START to resume."
)
OPTED_IN_REPLY = "Welcome back! Fieldline texts are on again. Reply HELP for what I can do."
STILL_OPTED_OUT_REPLY = "You're unsubscribed from Fieldline texts. Reply START to resume."


def keyword_of(body: str) -> str | None:
    """The carrier keyword `body` is, if it is exactly one (any case, surrounding punctuation)."""
    word = body.strip().strip(".!").upper()
    if word in OPT_OUT or word in OPT_IN or word in HELP or word in OPT_IN_WHEN_OPTED_OUT:
        return word
    return None
