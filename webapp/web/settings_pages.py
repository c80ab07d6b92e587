"""The agent's settings in the web app (issue 19): their note templates, /app/templates, and
the two switches of the texts the assistant sends first (alerts at night, nudges), /app/settings.

The same actions a text makes ("save template lv: ...", "delete template lv"), run at once as a
confirmed plan with the channel "web" (`run_plan_now`): the handlers check the name and the
text again, the change is audited and UNDO by text reverts it. A form that would change nothing
or is refused shows why and keeps what was typed. Post/Redirect/Get after a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from webapp.crm.note_templates import templates_of
from webapp.database import get_db
from webapp.execution.plans import run_plan_now
from webapp.understanding import settings
from webapp.understanding.plan import UpdateSettings, action_to_dict
from webapp.understanding.settings import SETTINGS
from webapp.understanding.templates import MAX_TEXT, clean_text, name_problem
from webapp.web.guard import current_agent, protect, signed_in

bp = protect(Blueprint("web_settings", __name__, template_folder="templates"))

DONE = {"saved": "Template saved.", "deleted": "Template deleted.",
        "switched": "Settings saved."}


class TemplateFormError(ValueError):
    """What is wrong with the form, said to the agent; nothing was changed."""


def _agent_templates() -> dict[str, str]:
    with get_db().session() as session:
        return templates_of(session, current_agent().id)


def render_templates(error: str | None = None, status: int = 200,
                     form: Mapping[str, str] | None = None) -> tuple[str, int]:
    ok = DONE.get(request.args.get("done", "")) if error is None else None
    return render_template("web/templates.html", templates=_agent_templates(), error=error,
                           ok=ok, form=dict(form or {}), max_text=MAX_TEXT), status


@bp.get("/app/templates")
@signed_in
def templates_page() -> tuple[str, int]:
    return render_templates()


@bp.post("/app/templates")
@signed_in
def save_template() -> Response | tuple[str, int]:
    try:
        action = save_action(request.form, _agent_templates())
    except TemplateFormError as error:
        return render_templates(str(error), 422, request.form)
    return _run(action, "saved")


@bp.post("/app/templates/<name>/delete")
@signed_in
def delete_template(name: str) -> Response | tuple[str, int]:
    templates = _agent_templates()
    if name not in templates:
        abort(404)
    return _run({"type": "delete_template", "template": name, "text": templates[name]},
                "deleted")


def save_action(form: Mapping[str, str], templates: Mapping[str, str]) -> dict[str, Any]:
    """A new template (the add form) or a changed text (a template's own form, which carries
    the text it showed, so a change made meanwhile by text fails instead of being lost)."""
    name = (form.get("name") or "").strip().lower()
    text = clean_text(form.get("text") or "")
    editing = "shown_text" in form
    if not editing:
        problem = name_problem(name, None)
        if problem:
            raise TemplateFormError(problem)
        if name in templates:
            raise TemplateFormError(f'You already have a template "{name}": change it below.')
    elif name not in templates:
        raise TemplateFormError(f'There is no template "{name}" any more.')
    if not text:
        raise TemplateFormError("Write the template's text.")
    if len(text) > MAX_TEXT:
        raise TemplateFormError(f"A template holds at most {MAX_TEXT} characters.")
    old = form.get("shown_text") if editing else None
    if editing and clean_text(old or "") == text:
        raise TemplateFormError("Nothing was changed.")
    return {"type": "save_template", "template": name, "text": text, "old_text": old}


def _run(action: dict[str, Any], done: str) -> Response | tuple[str, int]:
    outcome = run_plan_now(get_db(), current_agent().id, [action], "web",
                           summary=f"web: {action['type']} {action['template']}", now=g.web_now)
    if outcome.state != "executed":
        reason = outcome.error or "it could not be saved"
        return render_templates(f"Nothing was changed: {reason}.", 409, request.form)
    return redirect(url_for("web_settings.templates_page", done=done), code=303)


@bp.get("/app/settings")
@signed_in
def switches_page() -> tuple[str, int]:
    return _render_switches()


@bp.post("/app/settings")
@signed_in
def save_switches() -> Response | tuple[str, int]:
    agent = current_agent()
    wanted = {name: request.form.get(name) == "on" for name in SETTINGS}
    now_set = settings.current(agent)
    changed = {name: value for name, value in wanted.items() if now_set[name] != value}
    if not changed:
        return _render_switches("Nothing was changed.", 422)
    outcome = run_plan_now(get_db(), agent.id, [action_to_dict(UpdateSettings(changed))], "web",
                           summary=f"web: {settings.describe_short(changed)}", now=g.web_now)
    if outcome.state != "executed":
        return _render_switches(f"Nothing was changed: {outcome.error}.", 409)
    return redirect(url_for("web_settings.switches_page", done="switched"), code=303)


def _render_switches(error: str | None = None, status: int = 200) -> tuple[str, int]:
    agent = current_agent()
    ok = DONE.get(request.args.get("done", "")) if error is None else None
    return render_template("web/settings.html", error=error, ok=ok,
                           switches=settings.current(agent),
                           ), status


@bp.errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int]:
    return render_template("web/not_found.html"), 404
