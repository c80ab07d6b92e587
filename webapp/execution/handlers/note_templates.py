"""`save_template` and `delete_template` (issue 19): an agent's note templates.

The rules are checked again here, whatever made the plan (a text, a call, the web app): the
name's form and that it shadows no command word nor a word of one of the agent's leads' names,
the text's length, the most templates an agent may have. A save made on a template that changed
since the plan was read (`old_text`) fails, as does a delete of one that is gone. Undo puts the
template back as it was before. Templates are the agent's own settings: no webhook event.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from db.models import Lead, NoteTemplate
from webapp.execution.handlers.base import ActionHandler, Effect, PlanRejected, PlanRun
from webapp.understanding.templates import (
    MAX_TEMPLATES,
    MAX_TEXT,
    clean_text,
    lead_name_words,
    name_problem,
)


def _template(run: PlanRun, name: str) -> NoteTemplate | None:
    return run.session.scalar(select(NoteTemplate).where(NoteTemplate.agent_id == run.agent.id,
                                                         NoteTemplate.name == name))


def check_name(run: PlanRun, name: str) -> None:
    """PlanRejected when `name` may not name one of this agent's templates."""
    problem = name_problem(name, None)  # its form, and no command word
    if problem:
        raise PlanRejected(problem.removesuffix(" Pick another name.").rstrip("."))
    names = run.session.scalars(select(Lead.name).where(Lead.agent_id == run.agent.id))
    if name in lead_name_words(names):
        raise PlanRejected(f'"{name}" is in the name of one of your leads')


class SaveTemplate(ActionHandler):
    type = "save_template"
    undo_offer = "{undo_offer}"
    undo_done = "{undo_done}"
    event = None

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        name = str(action.get("template") or "").strip().lower()
        text = clean_text(str(action.get("text") or ""))
        if not text or len(text) > MAX_TEXT:
            raise PlanRejected(f"a template's text must be 1 to {MAX_TEXT} characters")
        check_name(run, name)
        row = _template(run, name)
        old = row.text if row is not None else None
        if old != action.get("old_text"):
            raise PlanRejected(f'the template "{name}" changed meanwhile')
        if row is None:
            count = run.session.scalar(select(func.count()).select_from(NoteTemplate).where(
                NoteTemplate.agent_id == run.agent.id)) or 0
            if count >= MAX_TEMPLATES:
                raise PlanRejected(f"you have {MAX_TEMPLATES} templates, the most there can be")
            row = NoteTemplate(agent_id=run.agent.id, name=name, text=text, created_at=run.now,
                               updated_at=run.now)
            run.session.add(row)
        else:
            row.text, row.updated_at = text, run.now
        run.session.flush()
        what = f'the template "{name}"'
        return {"type": self.type, "template": name, "text": text, "old_text": old,
                "undo_offer": f"delete {what}" if old is None else f"put {what} back",
                "undo_done": f"deleted {what}" if old is None else f"put {what} back"}

    def undo(self, run: PlanRun, effect: Effect) -> None:
        row = _template(run, effect["template"])
        if row is None or row.text != effect["text"]:
            raise PlanRejected(f'the template "{effect["template"]}" changed since')
        if effect["old_text"] is None:
            run.session.delete(row)
        else:
            row.text, row.updated_at = effect["old_text"], run.now
        run.session.flush()

    def reverts(self, effect: Effect) -> bool:
        return effect.get("text") != effect.get("old_text")

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        name = effect["template"]
        return (f'Saved template "{name}": {effect["text"]}\nUse it in a note: '
                f'"Called Dana, {name}".')


class DeleteTemplate(ActionHandler):
    type = "delete_template"
    undo_offer = 'bring back the template "{template}"'
    undo_done = 'brought back the template "{template}"'
    event = None

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        name = str(action.get("template") or "").strip().lower()
        row = _template(run, name)
        if row is None:
            raise PlanRejected(f'there is no template "{name}"')
        text = row.text
        run.session.delete(row)
        run.session.flush()
        return {"type": self.type, "template": name, "text": text}

    def undo(self, run: PlanRun, effect: Effect) -> None:
        if _template(run, effect["template"]) is not None:
            raise PlanRejected(f'a template "{effect["template"]}" was saved since')
        run.session.add(NoteTemplate(agent_id=run.agent.id, name=effect["template"],
                                     text=effect["text"], created_at=run.now,
                                     updated_at=run.now))
        run.session.flush()

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        return f'Deleted template "{effect["template"]}" ({effect["text"]}).'
