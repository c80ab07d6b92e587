"""Writing the email draft an agent asked for (kind `draft`, issue 19), storing it, and the
words back: the subject, the first lines and the link to the web app's draft page.

The lead's data is read in one short session, the draft written outside any session (the model
may take up to OPENAI_TIMEOUT, and no database connection is held meanwhile), then stored and
committed before the reply can carry its link. Nothing is e-mailed to the lead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from db.models import Lead, User
from db.session import Database
from webapp.crm.email_drafts import draft_facts, draft_reply, store_draft
from webapp.understanding.draft_writing import DraftWriter, TemplateWriter

GONE = "That lead is no longer in your book, so there is nothing to draft."


@dataclass
class Drafting:
    db: Database
    writer: DraftWriter = field(default_factory=TemplateWriter)
    # The draft page's URL for a draft id (the web app's), or None: no link in the reply.
    page_url: Callable[[int], str] | None = None

    def draft(self, agent: User, request: dict, now: datetime) -> tuple[str, dict | None]:
        """The reply, and the request with the draft's id, subject and body (None: no draft)."""
        lead_id = int(request["lead_id"])
        about = str(request.get("about") or "")
        with self.db.session() as session:
            facts = draft_facts(session, agent, lead_id, about,
                                bool(request.get("thank_you")), now)
            email = session.scalar(select(Lead.email).where(Lead.id == lead_id,
                                                            Lead.agent_id == agent.id))
        if facts is None:
            return GONE, None
        draft = self.writer.write(facts)
        with self.db.session() as session:
            row = store_draft(session, agent.id, lead_id, about, draft, now)
            session.commit()
            draft_id = row.id
        url = self.page_url(draft_id) if self.page_url is not None else None
        done = {**request, "id": draft_id, "subject": draft.subject, "body": draft.body,
                "writer": draft.writer}
        return draft_reply(facts.lead, email, draft, url, str(request.get("left_out") or "")), done
