"""Whole-message intents: yes, no, help, undo, a sign-in link, and the carrier keywords.

These are decided on the message as a whole, before any clause parsing, because "no" inside
"Called Dana, no answer" is a note, while "no" alone (or "no thanks", "nope 👎") is a cancel.

Carrier keywords (STOP, START, UNSUBSCRIBE...) are intercepted by the SMS channel layer before the
parser runs: carriers require that they opt the agent out of, or back into, outgoing messages.
If one reaches the parser anyway it is reported as `carrier`, which the parser turns into kind
"unknown" with a pointer to START; it is never "cancel" or "confirm".
"""

from __future__ import annotations

import re
from typing import Literal

from webapp.understanding.normalize import fold

Intent = Literal["confirm", "cancel", "help", "undo", "login", "carrier"]

CARRIER_KEYWORDS = frozenset(
    {"stop", "stopall", "stop all", "unsubscribe", "end", "quit", "optout", "opt out", "revoke",
     "start", "unstop", "subscribe", "optin", "opt in", "resume"}
)
_YES_EMOJI = ("👍", "👌", "✅", "✔", "🆗", "💯", "🙌")
_NO_EMOJI = ("👎", "❌", "🚫", "✖", "🙅")

_YES_STRONG = frozenset(
    "yes y ye yea yeah yeh yep yup ya yah yas yass yes yess yesss yeahh sure ok okay okey okie "
    "oki k kk kay confirm confirmed confirming correct right affirmative absolutely definitely "
    "approve approved approve perfect great good fine yessir alright aight bet agreed "
    "certainly indeed roger".split()
)
_YES_PHRASES = frozenset(
    {"do it", "go ahead", "go for it", "send it", "sounds good", "looks good", "looks right",
     "all good", "please do", "of course", "that's right", "thats right", "that's correct",
     "thats correct", "make it so", "ship it", "lets do it", "let's do it", "go", "yes sir",
     "that works", "works for me", "save it", "proceed", "execute", "run it", "all right",
     "you got it", "for sure", "sure thing", "why not", "lgtm", "do that"}
)
_NO_STRONG = frozenset(
    "no n nope nah na nay nop noo nooo negative cancel cancelled canceled abort wrong incorrect "
    "nevermind nvm don't dont".split()
)
_NO_PHRASES = frozenset(
    {"never mind", "no thanks", "no thank you", "forget it", "forget that", "scratch that",
     "do not", "don't do it", "dont do it", "not now", "hold off", "not right", "that's wrong",
     "thats wrong", "cancel that", "cancel it", "leave it", "skip it", "skip", "drop it",
     "not that", "none", "neither", "no way", "no don't", "ignore that", "ignore it",
     "disregard", "disregard that", "not correct", "no no", "don't do that", "dont do that",
     "do not do that", "don't do anything", "dont do anything", "don't save it", "don't send it",
     "don't change it", "don't change anything", "stop that", "wait no", "no wait", "hold on no",
     "not yet", "no don't do it", "no not that", "wrong one", "that's not right",
     "thats not right", "nah forget it", "never mind that", "don't bother", "dont bother",
     "scrap that", "scrap it", "scrap", "scratch it", "trash that", "trash it", "toss it",
     "toss that", "bin it", "ditch it", "ditch that"}
)
_FILLER = frozenset(
    "please pls thanks thank you thx ty it that this just yes ok oh well and sir mam man "
    "dude lol haha so all then now um umm uh uhh uhm hmm looks sounds seems is actually "
    "that's thats".split()
)
_HELP = frozenset(
    {"help", "?", "??", "???", "info", "what can you do", "what can i say", "what can i do",
     "commands", "menu", "options", "how does this work", "how do i use this", "how to use",
     "examples", "help me", "instructions", "what do you do", "how does it work",
     "what are the commands", "show commands", "list commands", "usage", "help please",
     "what can i text", "what can you help with", "how do i", "what do i say",
     "what should i say", "what can i ask", "what can i ask you", "how can you help"}
)
# "what can you help me with", "how can you help me", "what else can you do"
_HELP_ABILITY = re.compile(
    r"^(?:(?:so|hey|hi|ok|okay|um)\s+)?(?:what|how)(?:\s+else)?\s+(?:can|could|do|will)\s+"
    r"(?:you|u|this|it)\s+(?:help|assist|do)(?:\s+(?:me|us))?(?:\s+(?:with|for me))?"
    r"(?:\s+(?:here|today|exactly))?(?:\s+(?:please|pls|thanks))?$"
)
_UNDO = frozenset(
    {"undo", "undo that", "undo it", "undo last", "undo the last one", "undo last change",
     "undo the last change", "undo last action", "revert", "revert that", "revert it",
     "take that back", "take it back", "reverse that", "roll back", "rollback", "roll that back",
     "oops undo", "undo please", "please undo", "undo that please", "oops", "undo my last",
     "go back", "put it back", "reverse it", "undo last message"}
)
# "undo", "oops undo my last change", "please revert the last update"
_UNDO_SHAPE = re.compile(
    r"^(?:(?:oops|oh|ugh|wait|please|pls|can you|could you)\s+)*(?:undo|revert|reverse|roll ?back)"
    r"(?:\s+(?:my|the|that|this|it|last|latest|previous|change|changes|action|update|edit|one|"
    r"thing|message|step|please|pls|thanks|again))*"
    r"(?:\s+what\s+(?:you|i)\s+(?:just\s+)?(?:did|changed|made|saved|logged|entered|set))?"
    r"(?:\s+(?:please|pls|thanks))*$"
)
# why the agent says undo: "oops wrong person. undo", "undo that, wrong lead"
_UNDO_REASON = (r"(?:oops|whoops|oh no|ugh|sorry|my bad|my mistake|mistake|"
                r"wrong (?:person|lead|one|guy|girl|client|name|contact|number|status|time)|"
                r"that was (?:the )?wrong(?: one| person| lead)?|"
                r"that'?s (?:the )?wrong(?: one| person| lead)?|"
                r"not (?:that|the right) (?:one|person|lead))")
_UNDO_REASON_HEAD = re.compile(rf"^(?:{_UNDO_REASON}\s+)+")
_UNDO_REASON_TAIL = re.compile(rf"(?:\s+{_UNDO_REASON})+$")
_HELP_SHAPE = re.compile(
    r"^(?:(?:please|pls|hey|hi|hello|um|so|tell me|show me|i need|i'd like|i would like|"
    r"i could use|can i get|could i get|some|a little)\s+)*(?:help|"
    r"(?:what|which)\s+(?:commands|options|things|words)\s+(?:i|you)\s+(?:can|could|should)\s+"
    r"(?:use|say|text|send|ask|do|understand)|"
    r"what can i (?:text|send|ask|say|say to|tell)(?: you| u)?|"
    r"what do i (?:text|say|send)|how do i use (?:this|you|it)"
    r"|(?:what|which)\s+(?:commands|options|things|words)\s+(?:are there|are available|"
    r"(?:do|can|does)\s+(?:you|i|it|this)\s+(?:have|know|understand|take|support|use|say|text))"
    r"|what (?:can|does) (?:this|it|this thing|the bot|the app) (?:do|understand))"
    r"(?:\s+(?:me|please|pls|thanks|here|out|with this|now|"
    r"(?:using|with)\s+(?:this|the|you)(?:\s+(?:service|app|tool|bot|thing|number))?))*$"
)
# "web", "dashboard", "login", "link" and their everyday shapes ("send me the login link",
# "web app please", "can I get a link to the dashboard"): a one-time link to the web app.
_LOGIN_SHAPE = re.compile(
    r"^(?:(?:please|pls|hey|hi|ok|okay|so|can i (?:get|have)|could i (?:get|have)|"
    r"(?:can|could) you (?:send|text|give)(?: me)?|send(?: me)?|text(?: me)?|give me|get me|"
    r"i need|need|i want|i'd like|open|a|an|the|my|new|fresh|one time|one-time)\s+)*"
    r"(?:web(?:\s?app|site)?|dashboard|log\s?in|sign\s?in|link|"
    r"(?:web(?:\s?app)?|dashboard|log\s?in|sign\s?in|magic)\s+link|"
    r"link\s+(?:to|for)\s+(?:the\s+|my\s+)?(?:web(?:\s?app|site)?|dashboard|app))"
    r"(?:\s+(?:please|pls|thanks|thx|now|link))*$"
)
_PUNCT = re.compile(r"[^\w\s'?]")
_SPACES = re.compile(r"\s+")


def _canonical(text: str) -> str:
    text = fold(text).replace("’", "'")
    text = _PUNCT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _is_yes(words: list[str], joined: str) -> bool:
    if joined in _YES_PHRASES or joined in _YES_STRONG:
        return True
    rest = joined
    strong = False
    for phrase in sorted(_YES_PHRASES, key=len, reverse=True):
        if f" {phrase} " in f" {rest} ":
            rest = f" {rest} ".replace(f" {phrase} ", " ").strip()
            strong = True
    for w in rest.split():
        if w in _YES_STRONG:
            strong = True
        elif w not in _FILLER:
            return False
    return strong


def _is_no(words: list[str], joined: str) -> bool:
    if joined in _NO_PHRASES or joined in _NO_STRONG:
        return True
    rest = joined
    strong = False
    for phrase in sorted(_NO_PHRASES, key=len, reverse=True):
        if f" {phrase} " in f" {rest} ":
            rest = f" {rest} ".replace(f" {phrase} ", " ").strip()
            strong = True
    for w in rest.split():
        if w in _NO_STRONG:
            strong = True
        elif w not in _FILLER or w in ("yes", "ok"):
            return False
    return strong


def detect_intent(text: str) -> Intent | None:
    """The whole-message intent of a short reply, or None when it is something else."""
    if len(text) > 80:
        return None
    has_yes_emoji = any(e in text for e in _YES_EMOJI)
    has_no_emoji = any(e in text for e in _NO_EMOJI)
    joined = _canonical(text).rstrip(" ?!.").strip() if text.strip() not in ("?", "??") else "?"
    if text.strip() in ("?", "??", "???"):
        return "help"
    if not joined:
        if has_yes_emoji and not has_no_emoji:
            return "confirm"
        if has_no_emoji and not has_yes_emoji:
            return "cancel"
        return None
    if joined in CARRIER_KEYWORDS:
        return "carrier"
    if joined in _HELP or _HELP_SHAPE.match(joined) or _HELP_ABILITY.match(joined):
        return "help"
    if joined in _UNDO or _UNDO_SHAPE.match(joined):
        return "undo"
    bare = _UNDO_REASON_TAIL.sub("", _UNDO_REASON_HEAD.sub("", joined))
    if bare != joined and bare and (bare in _UNDO or _UNDO_SHAPE.match(bare)):
        return "undo"  # "oops wrong person. undo", "undo, wrong lead"
    if _LOGIN_SHAPE.match(joined):
        return "login"
    words = joined.split()
    if len(words) > 6 or (len(words) > 1 and words[-1] == "so"):
        return None  # "okay so ...": a lead-in that trails off, not an answer
        return None
    if _is_no(words, joined) and not has_yes_emoji:
        return "cancel"
    if _is_yes(words, joined) and not has_no_emoji:
        return "confirm"
    return None
