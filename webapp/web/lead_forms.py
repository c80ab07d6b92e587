"""The lead page's forms (POST): each change runs as a confirmed plan with the channel "web".

`run_plan_now` is the path a YES by text takes: the `executed_plans` row, the guarded claim,
the handlers, audit rows, one transaction; so undo by text, reminders and the calendar follow.
No result text is sent (the agent is looking at the page). A plan that fails (the lead or
follow-up changed meanwhile) shows the handler's reason on the page; nothing was changed.
After a change the browser is redirected (Post/Redirect/Get), so a reload repeats nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from db.models import Appointment, Lead
from webapp.crm.note_templates import templates_of
from webapp.database import get_db
from webapp.execution.plans import run_plan_now
from webapp.phones import region_of
from webapp.web import form_actions
from webapp.web.form_actions import FormError
from webapp.web.guard import agent_zone, current_agent, protect, signed_in
from webapp.web.pages import own_lead, render_lead

bp = protect(Blueprint("web_forms", __name__, template_folder="templates"))

Build = Callable[[Lead, Appointment | None], dict[str, Any]]


def _change(lead_id: int, done: str, build: Build, appointment_id: int | None = None
            ) -> Response | tuple[str, int]:
    agent = current_agent()
    problem = None
    with get_db().session() as session:
        lead = own_lead(session, lead_id)
        appointment = None
        if appointment_id is not None:
            appointment = session.scalar(select(Appointment).where(
                Appointment.id == appointment_id, Appointment.lead_id == lead.id,
                Appointment.agent_id == agent.id))
            if appointment is None:
                abort(404)
        try:
            action = build(lead, appointment)
        except FormError as error:
            problem = str(error)
    if problem is not None:
        return render_lead(lead_id, problem, 422, dict(request.form))
    outcome = run_plan_now(get_db(), agent.id, [action], "web",
                           summary=f"web: {action['type']} for {action['lead']}", now=g.web_now)
    if outcome.state != "executed":
        reason = outcome.error or "it could not be saved"
        return render_lead(lead_id, f"Nothing was changed: {reason}.", 409, dict(request.form))
    return redirect(url_for("web.lead_page", lead_id=lead_id, done=done), code=303)


@bp.post("/app/leads/<int:lead_id>/status")
@signed_in
def change_status(lead_id: int) -> Response | tuple[str, int]:
    return _change(lead_id, "status",
                   lambda lead, _: form_actions.status_change(request.form, lead))


@bp.post("/app/leads/<int:lead_id>/interactions")
@signed_in
def log_interaction(lead_id: int) -> Response | tuple[str, int]:
    with get_db().session() as session:
        templates = templates_of(session, current_agent().id)  # "lv" in a note: issue 19
    return _change(lead_id, "interaction",
                   lambda lead, _: form_actions.interaction(request.form, lead, templates))


@bp.post("/app/leads/<int:lead_id>/follow-ups")
@signed_in
def add_follow_up(lead_id: int) -> Response | tuple[str, int]:
    return _change(lead_id, "follow_up", lambda lead, _: form_actions.new_follow_up(
        request.form, lead, agent_zone(), g.web_now))


@bp.post("/app/leads/<int:lead_id>/follow-ups/<int:appointment_id>/reschedule")
@signed_in
def reschedule_follow_up(lead_id: int, appointment_id: int) -> Response | tuple[str, int]:
    return _change(lead_id, "moved", lambda lead, appointment: form_actions.reschedule(
        request.form, lead, appointment, agent_zone(), g.web_now), appointment_id)


@bp.post("/app/leads/<int:lead_id>/follow-ups/<int:appointment_id>/complete")
@signed_in
def complete_follow_up(lead_id: int, appointment_id: int) -> Response | tuple[str, int]:
    return _change(lead_id, "done", lambda lead, appointment: form_actions.close_follow_up(
        request.form, lead, appointment, done=True), appointment_id)


@bp.post("/app/leads/<int:lead_id>/follow-ups/<int:appointment_id>/cancel")
@signed_in
def cancel_follow_up(lead_id: int, appointment_id: int) -> Response | tuple[str, int]:
    return _change(lead_id, "cancelled", lambda lead, appointment: form_actions.close_follow_up(
        request.form, lead, appointment, done=False), appointment_id)


@bp.post("/app/leads/<int:lead_id>/details")
@signed_in
def edit_details(lead_id: int) -> Response | tuple[str, int]:
    region = region_of(current_agent().phone, current_app.config["DEFAULT_COUNTRY"])
    return _change(lead_id, "details",
                   lambda lead, _: form_actions.details(request.form, lead, region))


@bp.errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int]:
    return render_template("web/not_found.html"), 404
