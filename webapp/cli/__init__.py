"""Management commands: `flask --app wsgi <group> <command>`."""

from __future__ import annotations

from flask import Flask

from webapp.cli.agents import agents_cli
from webapp.cli.assistant import assistant_cli
from webapp.cli.data import data_cli
from webapp.cli.database import db_cli
from webapp.cli.demo import demo_cli
from webapp.cli.doctor import doctor
from webapp.cli.leads import leads_cli
from webapp.cli.ops import ops_cli, plans_cli

GROUPS = (agents_cli, assistant_cli, data_cli, db_cli, demo_cli, doctor, leads_cli, ops_cli,
          plans_cli)


def register_cli(app: Flask) -> None:
    for group in GROUPS:
        app.cli.add_command(group)
