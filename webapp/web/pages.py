"""The signed-in pages: /app (pipeline), /app/leads/<id>, /app/agenda, /app/reports, and the
exports (leads as CSV, the whole book as JSON). Thin: read the agent's data through the query
modules beside this one, render.

Every query takes the signed-in agent's id; a lead of another agent is a 404, exactly like a
lead that does not exist.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, g, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Appointment, Lead, User
from db.vocabulary import INTERACTION_TYPES, STATUSES
from webapp.crm.book_transfer import export_book
from webapp.database import get_db
from webapp.web import agenda as agenda_queries
from webapp.web import pipeline as pipeline_queries
from webapp.web.guard import agent_zone, current_agent, protect, signed_in
from webapp.web.report_charts import report_charts
from webapp.web.reports import PERIODS, report
from webapp.web.timeline import timeline

bp = protect(Blueprint("web", __name__, template_folder="templates", static_folder="static",
                       static_url_path="/app/static"))

OK_MESSAGES = {
    "status": "Status changed.",
    "interaction": "Interaction logged.",
    "follow_up": "Follow-up added.",
    "moved": "Follow-up moved.",
    "done": "Follow-up marked done.",
    "cancelled": "Follow-up cancelled.",
    "details": "Details saved.",
}


def _page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1


def _now() -> datetime:
    return g.web_now


@bp.get("/app")
@signed_in
def pipeline() -> str:
    agent = current_agent()
    query = (request.args.get("q") or "").strip()
    status = request.args.get("status")
    with get_db().session() as session:
        if query:
            found = pipeline_queries.search(session, agent.id, query, _page_number())
            return render_template("web/lead_list.html", found=found, query=query, status=None)
        if status in STATUSES:
            found = pipeline_queries.status_page(session, agent.id, status, _page_number())
            return render_template("web/lead_list.html", found=found, query="", status=status)
        columns = pipeline_queries.columns(session, agent.id)
    return render_template("web/pipeline.html", columns=columns,
                           total=sum(c.count for c in columns))


def own_lead(session: Session, lead_id: int) -> Lead:
    """The signed-in agent's lead `lead_id`, or 404 (another agent's lead does not exist)."""
    lead = session.scalar(select(Lead).where(Lead.id == lead_id,
                                             Lead.agent_id == current_agent().id))
    if lead is None:
        abort(404)
    return lead


def render_lead(lead_id: int, error: str | None = None, status: int = 200,
                form: dict | None = None) -> tuple[str, int]:
    """The lead page; with `error` (a form that changed nothing) and the form's values kept."""
    agent, zone = current_agent(), agent_zone()
    with get_db().session() as session:
        lead = own_lead(session, lead_id)
        open_follow_ups = session.scalars(
            select(Appointment)
            .where(Appointment.lead_id == lead.id, Appointment.agent_id == agent.id,
                   Appointment.state == "scheduled")
            .order_by(Appointment.due_at, Appointment.id)
        ).all()
        history = timeline(session, agent.id, lead.id, zone, _page_number())
    ok = OK_MESSAGES.get(request.args.get("done", "")) if error is None else None
    return render_template(
        "web/lead.html", lead=lead, follow_ups=open_follow_ups, history=history,
        statuses=STATUSES, interaction_types=INTERACTION_TYPES, error=error, ok=ok,
        form=form or {}, today=_now().astimezone(zone).date().isoformat(),
    ), status


@bp.get("/app/leads/<int:lead_id>")
@signed_in
def lead_page(lead_id: int) -> tuple[str, int]:
    return render_lead(lead_id)


@bp.get("/app/agenda")
@signed_in
def agenda() -> str:
    agent = current_agent()
    with get_db().session() as session:
        items = agenda_queries.agenda(session, agent.id, agent_zone(), _now())
    return render_template("web/agenda.html", agenda=items)


@bp.get("/app/reports")
@signed_in
def reports() -> str:
    agent = current_agent()
    with get_db().session() as session:
        figures = report(session, agent.id, request.args.get("period"), agent_zone(), _now())
    return render_template("web/reports.html", report=figures, periods=PERIODS,
                           charts=report_charts(figures))


@bp.get("/app/export.csv")
@signed_in
def export_csv() -> Response:
    agent, zone = current_agent(), agent_zone()
    with get_db().session() as session:
        body = leads_csv(session, agent.id, zone)
    day = _now().astimezone(zone).date().isoformat()
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="fieldline-leads-{day}.csv"'})


@bp.get("/app/export.json")
@signed_in
def export_json() -> Response:
    """The agent's whole book in the spec's "Moving a book in and out" format (the same as
    `flask --app wsgi data export`), which `data import` reads back."""
    with get_db().session() as session:
        agent = session.get(User, current_agent().id)
        book = export_book(session, agent)
    day = _now().astimezone(agent_zone()).date().isoformat()
    return Response(json.dumps(book, indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="fieldline-book-{day}.json"'})


CSV_COLUMNS = ("name", "phone", "email", "status", "last_contacted", "next_follow_up")


def leads_csv(session: Session, agent_id: int, zone: ZoneInfo) -> str:
    """The agent's leads as CSV; instants are ISO 8601 in the agent's zone."""
    next_due = (
        select(Appointment.lead_id, Appointment.due_at)
        .where(Appointment.agent_id == agent_id, Appointment.state == "scheduled")
        .order_by(Appointment.lead_id, Appointment.due_at)
    )
    first_due: dict[int, datetime] = {}
    for lead_id, due_at in session.execute(next_due):
        first_due.setdefault(lead_id, due_at)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows = session.execute(
        select(Lead.id, Lead.name, Lead.phone, Lead.email, Lead.status, Lead.last_contacted)
        .where(Lead.agent_id == agent_id).order_by(Lead.name, Lead.id)
    )
    for lead_id, name, phone, email, status, last_contacted in rows:
        writer.writerow([_cell(name), phone or "", _cell(email or ""), status,
                         _iso(last_contacted, zone), _iso(first_due.get(lead_id), zone)])
    return out.getvalue()


def _iso(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""


def _cell(value: str) -> str:
    """A spreadsheet reads a cell starting with = + - @ as a formula: quote those."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int]:
    return render_template("web/not_found.html"), 404
