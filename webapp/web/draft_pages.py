"""The email draft page (issue 19): /app/drafts/<id>, linked from the text that brought it.

It shows the draft in full with "Open in mail" (a mailto: link to the lead's address, subject
and body filled) and "Copy" (a small script file of this app, allowed on this page alone by its
CSP; without JavaScript the text is in a box to select and copy by hand, and Open in mail
works). "I sent it: log the email" logs an `email` interaction with the subject as its note,
as a confirmed plan with the channel "web", like "log it" by text; a draft already logged says
so. Fieldline never sends anything to the lead itself. Another agent's draft is a 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from webapp.crm.email_drafts import is_logged, mailto, own_draft
from webapp.database import get_db
from webapp.execution.plans import run_plan_now
from webapp.web.guard import current_agent, protect, signed_in

bp = protect(Blueprint("web_drafts", __name__, template_folder="templates"))


def draft_url(base: str, draft_id: int) -> str:
    """Where the text points for draft `draft_id` (PUBLIC_BASE_URL + the page)."""
    return f"{base.rstrip('/')}/app/drafts/{draft_id}"


def _render(draft_id: int, error: str | None = None, status: int = 200) -> tuple[str, int]:
    with get_db().session() as session:
        found = own_draft(session, current_agent().id, draft_id)
        if found is None:
            abort(404)
        draft, lead = found
        logged = is_logged(session, draft)
    g.web_script = True  # the Copy button's script file (see guard.SCRIPT_POLICY)
    ok = "Logged the email on the lead. Text UNDO to revert it." if (
        request.args.get("done") == "logged" and error is None) else None
    return render_template("web/draft.html", draft=draft, lead=lead, logged=logged,
                           mailto=mailto(lead.email, draft.subject, draft.body), ok=ok,
                           error=error), status


@bp.get("/app/drafts/<int:draft_id>")
@signed_in
def draft_page(draft_id: int) -> tuple[str, int]:
    return _render(draft_id)


@bp.post("/app/drafts/<int:draft_id>/log")
@signed_in
def log_sent(draft_id: int) -> Response | tuple[str, int]:
    agent = current_agent()
    with get_db().session() as session:
        found = own_draft(session, agent.id, draft_id)
        if found is None:
            abort(404)
        draft, lead = found
        if is_logged(session, draft):
            return _render(draft_id, "This email is already logged.", 409)
        action = {"type": "log_interaction", "lead_id": lead.id, "lead": lead.name,
                  "interaction_type": "email", "note": draft.subject}
    outcome = run_plan_now(get_db(), agent.id, [action], "web",
                           summary=f"web: email sent to {lead.name}", now=g.web_now)
    if outcome.state != "executed":
        return _render(draft_id, f"Nothing was logged: {outcome.error or 'it failed'}.", 409)
    return redirect(url_for("web_drafts.draft_page", draft_id=draft_id, done="logged"),
                    code=303)


@bp.errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int]:
    return render_template("web/not_found.html"), 404
