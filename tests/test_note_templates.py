"""Note templates as said (issue 19): saving, listing and deleting them by text or speech, the
names that are refused and why, and a template written out wherever a note goes. The parser
alone, with the agent's templates given as data (no database)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.openai_standin import OpenAIStandIn
from tests.support.parser_book import CHICAGO, DIRECTORY, NOW
from webapp.understanding.parser import AgentContext, parse_message
from webapp.understanding.parser_choice import make_parser
from webapp.understanding.plan import DeleteTemplate, LogInteraction, SaveTemplate
from webapp.understanding.templates import MAX_TEMPLATES, MAX_TEXT, expand_note

LV = "left a voicemail, will try again tomorrow"
TEMPLATES = {"lv": LV, "nr": "no reply to texts"}


def ctx(templates: dict[str, str] | None = None, recent: tuple[int, ...] = ()) -> AgentContext:
    chosen = TEMPLATES if templates is None else templates
    return AgentContext(DIRECTORY, CHICAGO, "US", recent, templates=lambda: chosen)


def parse(text: str, templates: dict[str, str] | None = None, recent: tuple[int, ...] = ()):
    return parse_message(text, ctx(templates, recent), NOW)


# ---- saving, listing, deleting ----------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "save template vm2: left a voicemail, will try again tomorrow",
    "Save template vm2 - left a voicemail, will try again tomorrow",
    'add a template called "vm2": left a voicemail, will try again tomorrow',
    "new note template vm2 = left a voicemail, will try again tomorrow",
    "template vm2: left a voicemail, will try again tomorrow",
    "save template vm2, left a voicemail, will try again tomorrow",  # as speech is written
])
def test_saving_a_template_is_a_plan_that_shows_the_name_and_text(text: str) -> None:
    plan = parse(text)
    assert plan.kind == "plan"
    assert plan.actions == [SaveTemplate("vm2", LV)]
    assert plan.reply == f'Save template "vm2": {LV}\nReply YES to confirm or NO to cancel.'


def test_a_dictated_name_spelled_out_is_one_word() -> None:
    plan = parse("save template c b colon left a voicemail, will try again tomorrow")
    assert plan.actions == [SaveTemplate("cb", LV)]


def test_saving_over_a_template_shows_the_old_and_new_text() -> None:
    plan = parse("update template nr: no reply, try email")
    assert plan.actions == [SaveTemplate("nr", "no reply, try email", "no reply to texts")]
    assert plan.reply.startswith('Change template "nr": no reply to texts -> no reply, try email')


def test_the_text_is_kept_as_typed_shorthand_and_all() -> None:
    plan = parse("save template cb: lvm, will call back tmrw")
    assert plan.actions == [SaveTemplate("cb", "lvm, will call back tmrw")]


def test_templates_lists_them_as_a_query_and_changes_nothing() -> None:
    for text in ("templates", "list my templates", "show me my note templates",
                 "what templates do I have?"):
        plan = parse(text)
        assert plan.kind == "query" and plan.query == {"type": "templates"}, text
        assert plan.actions == []
    assert "lv: " + LV in parse("templates").reply
    assert "no note templates yet" in parse("templates", {}).reply


def test_deleting_a_template_is_a_plan_and_a_missing_one_is_a_noop() -> None:
    for text in ("delete template lv", "remove the lv template", "Delete template LV."):
        plan = parse(text)
        assert plan.kind == "plan" and plan.actions == [DeleteTemplate("lv", LV)], text
    missing = parse("delete template zz")
    assert missing.kind == "noop" and missing.actions == []
    assert '"zz"' in missing.reply and "lv, nr" in missing.reply


def test_saving_what_a_template_already_says_is_a_noop() -> None:
    plan = parse(f"save template lv: {LV}")
    assert plan.kind == "noop" and plan.actions == []


@pytest.mark.parametrize(("text", "why"), [
    ("save template dana: called back", "Dana Cole"),  # a lead's first name
    ("save template cole: called back", "Dana Cole"),  # ... or last name
    ("save template yes: sounds good", "command"),
    ("save template done: finished", "command"),
    ("save template agenda: x", "command"),
    ("save template won: x", "status"),
    ("save template tomorrow: x", "time word"),
    ("save template emailed: x", "call, meeting"),
    ("save template vm: x", 'already means "voicemail"'),
    ("save template x: one letter", "one word of 2 to 20"),
    ("save template l@v: x", "one word of 2 to 20"),
    ("save template 42: x", "one word of 2 to 20"),
])
def test_a_name_that_would_shadow_a_lead_or_a_command_is_refused_with_the_reason(
        text: str, why: str) -> None:
    plan = parse(text)
    assert plan.kind == "clarify" and plan.actions == []
    assert why in plan.reply


def test_a_template_without_text_or_too_long_or_one_too_many_is_refused() -> None:
    assert "What should" in parse("save template zz").reply
    long = parse("save template zz: " + "x" * (MAX_TEXT + 1))
    assert long.kind == "clarify" and str(MAX_TEXT) in long.reply
    full = {f"t{i}": "x" for i in range(MAX_TEMPLATES)}
    assert parse("save template zz: x", full).kind == "clarify"
    assert parse("save template t1: y", full).kind == "plan"  # changing one is fine


# ---- writing them out ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Called Dana, lv", "called dana cole lv", "Called Dana, LV",
                                  "called dana, l v", "Called Dana Cole: lv."])
def test_a_note_that_is_a_template_name_is_written_out(text: str) -> None:
    plan = parse(text)
    assert plan.kind == "plan"
    assert plan.actions == [LogInteraction(5, "Dana Cole", "call", LV)], text
    assert LV in plan.reply


def test_a_piece_of_a_note_is_written_out_and_the_rest_kept() -> None:
    plan = parse("Called Dana, lv, she sounded busy")
    assert plan.actions[0].note == f"{LV}, she sounded busy"
    both = parse("Texted John Doe, nr; lv")
    assert both.actions[0].note == f"no reply to texts; {LV}"


def test_a_template_works_in_every_kind_of_note_and_several_leads() -> None:
    note = parse("Add a note for Sarah Smith: nr")
    assert note.actions == [LogInteraction(4, "Sarah Smith", "note", "no reply to texts")]
    two = parse("Called Dana and Sarah Smith, lv")
    assert [a.note for a in two.actions] == [LV, LV]


def test_words_that_only_contain_a_name_are_left_alone() -> None:
    plan = parse("Called Dana, lvl 3 condo, nr of bedrooms unclear")
    assert plan.actions[0].note == "lvl 3 condo, nr of bedrooms unclear"


def test_a_follow_up_title_is_never_a_template() -> None:
    plan = parse("Remind me to call Dana tomorrow, lv")
    assert all(not isinstance(a, LogInteraction) for a in plan.actions)
    assert LV not in plan.reply


def test_a_lead_named_like_a_template_wins() -> None:
    assert expand_note("lv", {"lv": LV}) == LV
    assert expand_note("lv", {"lv": LV}, is_lead_word=lambda w: w == "lv") == "lv"


def test_without_templates_notes_are_as_before() -> None:
    assert parse("Called Dana, lv", {}).actions[0].note == "lv"


def test_templates_are_read_only_when_a_message_needs_them() -> None:
    def never() -> dict[str, str]:
        raise AssertionError("templates read for a message that needs none")

    quiet = AgentContext(DIRECTORY, CHICAGO, "US", templates=never)
    for text in ("YES", "Mark Dana Cole as qualified", "Remind me to call Dana tomorrow at 3",
                 "agenda", "New lead Jane Roe 312-555-0123", "Called Dana, she wants a 3 bed"):
        parse_message(text, quiet, NOW)


def test_a_clarify_continues_with_the_template_written_out() -> None:
    first = parse("Called John, lv")
    assert first.kind == "clarify"
    from webapp.understanding.parser import continue_clarify

    plan = continue_clarify("1", first.clarify, ctx(), NOW)
    assert plan.kind == "plan" and plan.actions[0].note == LV


# ---- the model path writes them out too --------------------------------------------------------


@pytest.fixture
def model() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as standin:
        yield standin


def test_a_note_the_model_reads_is_written_out_as_well(model: OpenAIStandIn) -> None:
    parser = make_parser({"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
                          "OPENAI_TIMEOUT": 3.0, "PARSER": "llm"})
    model.reply_tool_call({"kind": "plan", "query": None, "selector": None, "actions": [
        {"type": "log_interaction", "lead": "Dana Cole", "interaction_type": "call",
         "note": "lv"}]})
    try:
        plan = parser("rang Dana Cole up, lv", ctx(), NOW)
    finally:
        parser.model.close()
    assert plan.kind == "plan"
    assert plan.actions == [LogInteraction(5, "Dana Cole", "call", LV)]
