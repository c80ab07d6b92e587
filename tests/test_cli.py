"""The management CLI forms the README documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import Lead, User
from webapp.database import get_db


def _add_agent(cli, phone: str = "(312) 555-0100", tz: str = "America/Chicago"):
    return cli.invoke(args=["agents", "add", "--name", "Alex Rivera", "--phone", phone, "--tz", tz])


def _leads(app) -> list[Lead]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Lead).order_by(Lead.name)))


def _csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "leads.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_agents_add_normalizes_the_phone_to_e164(app, cli) -> None:
    result = _add_agent(cli)
    assert result.exit_code == 0, result.output
    with get_db(app).session() as session:
        agent = session.scalar(select(User))
    assert agent.phone == "+13125550100"
    assert agent.timezone == "America/Chicago"
    assert "+13125550100" in cli.invoke(args=["agents", "list"]).output


@pytest.mark.parametrize(
    ("phone", "tz", "message"),
    [
        ("12", "America/Chicago", "phone"),
        ("312-555-0100", "Mars/Olympus", "time zone"),
        ("312-555-0100", "EST5EDT_NOPE", "time zone"),
    ],
)
def test_agents_add_refuses_bad_phone_or_zone(app, cli, phone, tz, message) -> None:
    result = _add_agent(cli, phone, tz)
    assert result.exit_code != 0
    assert message in result.output


def test_agents_add_refuses_a_duplicate_phone_in_another_format(app, cli) -> None:
    assert _add_agent(cli).exit_code == 0
    result = _add_agent(cli, "+1 312 555 0100")
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_leads_import_adds_rows_with_e164_phones_and_default_status(app, cli, tmp_path) -> None:
    _add_agent(cli)
    path = _csv(
        tmp_path,
        "name,phone,email,status\n"
        "John Doe,312-555-0123,john@example.com,contacted\n"
        "Jane Roe,(773) 555-0199,,\n"
        "José García,,jose@example.com,Closed Won\n",
    )
    result = cli.invoke(args=["leads", "import", path, "--agent", "3125550100"])
    assert result.exit_code == 0, result.output
    assert "Imported 3" in result.output
    leads = {lead.name: lead for lead in _leads(app)}
    assert leads["John Doe"].phone == "+13125550123"
    assert leads["Jane Roe"].status == "new"
    assert leads["José García"].status == "closed_won"
    assert leads["José García"].phone is None


def test_reimporting_the_same_file_does_not_duplicate_leads(app, cli, tmp_path) -> None:
    _add_agent(cli)
    path = _csv(tmp_path, "name,phone,email\nJohn Doe,312-555-0123,\nNo Phone,,np@example.com\n")
    cli.invoke(args=["leads", "import", path, "--agent", "+13125550100"])
    result = cli.invoke(args=["leads", "import", path, "--agent", "+13125550100"])
    assert result.exit_code == 0, result.output
    assert "Imported 0" in result.output
    assert len(_leads(app)) == 2


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("Bad Phone,12345,,new", "line 3: invalid phone"),
        ("Bad Status,312-555-0188,,hot", "line 3: unknown status"),
        (",312-555-0188,,new", "line 3: missing name"),
        ("Bad Email,,not-an-email,new", "line 3: invalid email"),
        ("Too,Many,Columns,new,extra", "line 3: too many columns"),
    ],
)
def test_a_bad_row_names_its_line_and_nothing_is_imported(app, cli, tmp_path, bad_row, reason):
    _add_agent(cli)
    path = _csv(tmp_path, f"name,phone,email,status\nGood Lead,312-555-0123,,new\n{bad_row}\n")
    result = cli.invoke(args=["leads", "import", path, "--agent", "+13125550100"])
    assert result.exit_code != 0
    assert reason in result.output
    assert "nothing was imported" in result.output
    assert _leads(app) == []


def test_a_wrong_header_is_refused(app, cli, tmp_path) -> None:
    _add_agent(cli)
    path = _csv(tmp_path, "full_name,mobile\nJohn Doe,312-555-0123\n")
    result = cli.invoke(args=["leads", "import", path, "--agent", "+13125550100"])
    assert result.exit_code != 0
    assert "header" in result.output


def test_import_for_an_unknown_agent_is_refused(app, cli, tmp_path) -> None:
    path = _csv(tmp_path, "name,phone,email\nJohn Doe,,\n")
    result = cli.invoke(args=["leads", "import", path, "--agent", "+13125550199"])
    assert result.exit_code != 0
    assert "no agent" in result.output


def test_leads_list_shows_only_that_agents_leads(app, cli, tmp_path) -> None:
    _add_agent(cli)
    _add_agent(cli, "+13125550101")
    cli.invoke(args=["leads", "import", _csv(tmp_path, "name,phone,email\nMine,,\n"),
                     "--agent", "+13125550100"])
    other = tmp_path / "other.csv"
    other.write_text("name,phone,email\nTheirs,,\n")
    cli.invoke(args=["leads", "import", str(other), "--agent", "+13125550101"])
    output = cli.invoke(args=["leads", "list", "--agent", "+13125550100"]).output
    assert "Mine" in output
    assert "Theirs" not in output


def test_demo_seed_is_idempotent(app, cli) -> None:
    assert cli.invoke(args=["demo", "seed"]).exit_code == 0
    count = len(_leads(app))
    assert count >= 12
    assert cli.invoke(args=["demo", "seed"]).exit_code == 0
    assert len(_leads(app)) == count
