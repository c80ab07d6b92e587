"""An agent's note templates as stored (issue 19), read for the parser and the answers.

Changes go through plans (`webapp/execution/handlers/note_templates.py`); the data import
writes them itself (`book_transfer.py`), as it does every other section.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import NoteTemplate


def templates_of(session: Session, agent_id: int) -> dict[str, str]:
    """The agent's templates, name -> text, by name."""
    rows = session.execute(select(NoteTemplate.name, NoteTemplate.text)
                           .where(NoteTemplate.agent_id == agent_id)
                           .order_by(NoteTemplate.name))
    return {name: text for name, text in rows}
