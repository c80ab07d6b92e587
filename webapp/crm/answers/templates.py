""""templates": the agent's note templates, one line each (issue 19)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from webapp.crm.answers.shape import Answer
from webapp.crm.note_templates import templates_of
from webapp.crm.sms_budget import fits, listed
from webapp.understanding.templates import listing_text

SEGMENTS = 3  # the list as texted; the web app's Templates page shows all of them in full


def templates_answer(session: Session, agent_id: int) -> Answer:
    """Every template by name (voice reads the first few and texts the rest)."""
    templates = templates_of(session, agent_id)
    text = listing_text(templates)
    if not templates:
        return Answer(text)
    items = tuple(f"{name}: {value}" for name, value in templates.items())
    noun = "1 note template" if len(items) == 1 else f"{len(items)} note templates"
    if not fits(text, SEGMENTS):
        text = listed(f"Your {noun}:\n", items, SEGMENTS)
    return Answer(text, head=f"You have {noun}.", items=items)
