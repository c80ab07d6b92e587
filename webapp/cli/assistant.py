"""`flask --app wsgi assistant parse` — see what the assistant understands, without side effects.

For debugging and evaluation: prints the spec's output shape (kind, actions, reply) for one
message, or for every JSON line on stdin with --jsonl (each line parsed on its own, as the first
message of a conversation). Reads the agent and their book (leads, open follow-ups, interactions)
from the database; writes nothing. The agent's note templates expand as they would in a
text, and a `draft` is written (by the model with --parser llm/auto and a key, else the
template) and shown, but not stored.
"""

from __future__ import annotations

import functools
import json
import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from db.models import Lead
from webapp.cli.agent_option import agent_from_option
from webapp.config import ConfigError
from webapp.conversation.lead_directories import directory_for
from webapp.crm.answers import answer_query
from webapp.crm.book_lookup import SqlBook
from webapp.crm.email_drafts import draft_facts, draft_reply, latest_draft
from webapp.crm.note_templates import templates_of
from webapp.database import get_db
from webapp.phones import region_of
from webapp.understanding.draft_writing import make_draft_writer
from webapp.understanding.parser import AgentContext
from webapp.understanding.parser_choice import make_parser

assistant_cli = AppGroup("assistant", help="Inspect the assistant's understanding.")


def resolve_now(raw: str | None, zone: ZoneInfo) -> datetime:
    """--now: a local time in the agent's zone, or an ISO time with an offset; default now."""
    if not raw:
        return datetime.now(UTC).astimezone(zone)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO time: {raw!r}", param_hint="--now") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


@assistant_cli.command("parse")
@click.option("--agent", "agent_phone", required=True, help="The agent's phone.")
@click.option("--now", "now_raw", default=None,
              help="Local time in the agent's zone, or ISO+offset.")
@click.option("--parser", "parser_name", type=click.Choice(["rules", "llm", "auto"]),
              default="rules", show_default=True,
              help="Which parser answers (llm/auto use the OPENAI_* settings).")
@click.option("--jsonl", is_flag=True, help='Read {"message": ..., "now": ...} lines from stdin.')
@click.argument("message", required=False)
def parse(agent_phone: str, now_raw: str | None, parser_name: str, jsonl: bool,
          message: str | None) -> None:
    """Print the plan for MESSAGE (or for each JSON line on stdin with --jsonl)."""
    if not jsonl and message is None:
        raise click.UsageError("give a MESSAGE, or --jsonl with JSON lines on stdin")
    try:
        parse_message = make_parser(current_app.config, mode=parser_name)
        writer = make_draft_writer({**current_app.config, "PARSER": parser_name},
                                   getattr(parse_message, "breaker", None))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    with get_db().session() as session:
        agent = agent_from_option(session, agent_phone)
        zone = ZoneInfo(agent.timezone)
        ctx = AgentContext(leads=directory_for(session, agent.id), timezone=zone,
                           country=region_of(agent.phone, current_app.config["DEFAULT_COUNTRY"]),
                           book=SqlBook(lambda: nullcontext(session), agent.id),
                           templates=functools.cache(lambda: templates_of(session, agent.id)),
                           latest_draft=lambda: latest_draft(session, agent.id))

        def one(text: str, now: datetime) -> dict:
            plan = parse_message(text, ctx, now)
            if plan.kind == "query" and plan.query:
                plan.reply = answer_query(session, agent.id, plan.query, zone, now)
            if plan.kind == "draft" and plan.draft:
                facts = draft_facts(session, agent, plan.draft["lead_id"], plan.draft["about"],
                                    plan.draft["thank_you"], now)
                if facts is not None:
                    draft = writer.write(facts)
                    plan.draft = {**plan.draft, "subject": draft.subject, "body": draft.body,
                                  "writer": draft.writer}
                    lead = session.get(Lead, plan.draft["lead_id"])
                    plan.reply = draft_reply(facts.lead, lead.email if lead else None, draft,
                                             None, plan.draft.get("left_out", ""))
            return plan.to_dict(text)

        if not jsonl:
            click.echo(json.dumps(one(message or "", resolve_now(now_raw, zone)),
                                  ensure_ascii=False))
            return
        default_now = now_raw
        out = sys.stdout
        for line_no, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                text = item["message"]
                now = resolve_now(item.get("now") or default_now, zone)
            except (ValueError, KeyError, TypeError, click.BadParameter) as exc:
                out.write(json.dumps({"line": line_no, "error": str(exc)}) + "\n")
                continue
            out.write(json.dumps(one(text, now), ensure_ascii=False) + "\n")
        out.flush()
