"""normalize() skips a rule's regex when the text cannot match it; that must never change output.

Each rule carries `needs`: literal pieces, written by hand from its pattern, of which every match
contains one. These tests check that claim on many texts that do match, and that the cheap paths
(ASCII strip_symbols, non-ASCII text running every rule) read text as the plain path does.
"""

from __future__ import annotations

import random
import unicodedata

import pytest

from tests.support.corpus import CORPUS, load_rows
from webapp.understanding import normalize as nz

_PIECES = (
    "tmrw tmr tomoro tommorow 2moro 2day tday tonite 2nite w/o w/ w too two 2 remind me need "
    "call f/u followup follow-up f-up fu and then lvm asap wat what wht whts wats what's emaild "
    "textd phond messagd calld eve chg mv re: pls plz plse thx thnx tnx ty u ur appt apt mtg lmk "
    "b/c nxt wk hrs hr mins txtd txted txt msgd msged msg vm vmail convo b4 abt shes hes theyre "
    "wanna gonna @ & + tomorrow today this mon tues sat am a.m a.m. pm p.m. at 10 30 3 15 12 05 "
    "two thirty one oh o'clock 5 um uh umm hmm erm okay ok so alright all right also well anyway "
    "could you can please i'd like to i would like a reminder i need you to just wanted say "
    "just so you know fyi heads up i'm happy report i am sorry unfortunately good news kindly "
    "hi hello hey there good morning greetings thanks thank many much appreciated cheers "
    "i appreciate it agneda stauts sattus gaenda status agenda Dana"
).split() + [
    "p m", "a m", "p. m.", "all right", "heads up", "good news", "sat pm", "fri p.m.",
    "at 1 05", "at 2 10", "9 20", "11 45", "at 4 30", "12 00 tomorrow", "3 50 pm",
    "remind me two call", "need 2 text", "wanted to say", "just letting you know",
    "i'm pleased to share", "i am glad to say", "i'm sorry to report", "i am sad to say",
    "i'm excited to announce", "i am thrilled to tell you", "i'm happy to say", "happily,",
    "much appreciated.", "i appreciate your help",
]
_SEPARATORS = (" ", " ", " ", "", "\n", ", ", ". ", "  ", "! ")


def _texts() -> list[str]:
    """Corpus messages and random runs of the rules' own words, in mixed case."""
    rng = random.Random(5)
    texts = [row["message"] for path in sorted(CORPUS.glob("*.jsonl"))
             for row in load_rows(path.name)]
    for _ in range(20_000):
        words = [rng.choice(_PIECES) for _ in range(rng.randint(1, 6))]
        words = [w.upper() if rng.random() < 0.25 else w for w in words]
        texts.append("".join(w + rng.choice(_SEPARATORS) for w in words))
    return [t for t in texts if t.isascii()]


def _gated_rules() -> list[tuple[str, object, tuple[str, ...]]]:
    rules = [(p.pattern[:40], p, needs) for p, _, needs in nz._SHORTHAND_RE]
    rules += [
        ("hesitation", nz._HESITATION, nz._HESITATION_NEEDS),
        ("lead-in", nz._LEAD_IN, nz._LEAD_IN_NEEDS),
        ("polite", nz._POLITE, nz._POLITE_NEEDS),
        ("greeting", nz._GREETING, nz._GREETING_NEEDS),
        ("thanks", nz._THANKS_SENTENCE, nz._THANKS_NEEDS),
    ]
    return rules


def test_a_text_that_matches_a_rule_always_holds_one_of_its_needs() -> None:
    texts = _texts()
    for name, pattern, needs in _gated_rules():
        matched = 0
        for text in texts:
            if pattern.search(text):
                matched += 1
                assert nz._may_match(needs, text.lower()), (name, text)
        assert matched, f"no test text matches {name}"


def test_keyword_typo_needs_every_word_the_typo_rule_rewrites() -> None:
    for kw in nz._KEYWORDS:
        for i in range(len(kw) - 1):
            typo = kw[:i] + kw[i + 1] + kw[i] + kw[i + 2:]
            m = nz._KEYWORD_TYPO.search(typo.upper())
            if nz._keyword_typo(m) != m.group():
                assert typo in nz._KEYWORD_TYPO_NEEDS[0][1]


def test_spoken_meridiem_tail_is_in_every_spoken_meridiem_match() -> None:
    for text in _texts() + ["two thirty p m", "2 30 P. M.", "ten a\nm", "5 p .m"]:
        for m in nz._SPOKEN_MERIDIEM.finditer(text):
            assert nz._SPOKEN_MERIDIEM_TAIL.search(m.group()), text


@pytest.mark.parametrize("code", range(128))
def test_ascii_strip_symbols_drops_the_same_characters(code: int) -> None:
    ch = chr(code)
    dropped = ch != "\n" and unicodedata.category(ch) in nz._DROP_CATEGORIES
    assert nz.strip_symbols(f"a{ch}b") == ("a b" if dropped else f"a{ch}b")


def test_non_ascii_text_still_runs_rules_its_letters_fold_into() -> None:
    # IGNORECASE reads the long s "ſ" as "s"; str.lower() does not, so no rule is skipped here.
    assert nz.normalize("call in 2 hr\u017f") == "call in 2 hours"
    assert nz.normalize("José tmrw w/ Dana") == "José tomorrow with Dana"
