"""`update_settings`: the agent's own switches ("alerts at night on", "nudges off").

Run at once, without a YES (a switch is as easily flipped back), but through the same path as a
confirmed plan: an `executed_plans` row, one transaction, and UNDO puts the old values back.
The agent's own settings are announced to no webhook.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from webapp.execution.handlers.base import ActionHandler, Effect, PlanRejected, PlanRun
from webapp.understanding.settings import COLUMNS, describe, describe_short


class UpdateSettings(ActionHandler):
    type = "update_settings"
    undo_offer = "set your settings back ({undo_offer})"
    undo_done = "set your settings back ({undo_offer})"
    event = None

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        wanted = action.get("settings")
        if not isinstance(wanted, dict) or not wanted:
            raise PlanRejected("no setting to change")
        old, new = {}, {}
        for setting, value in wanted.items():
            if setting not in COLUMNS or not isinstance(value, bool):
                raise PlanRejected(f"{setting!r} is not a setting")
            old[setting] = getattr(run.agent, COLUMNS[setting])
            new[setting] = value
            setattr(run.agent, COLUMNS[setting], value)
        return {"type": self.type, "old": old, "new": new,
                "undo_offer": describe_short(old)}

    def undo(self, run: PlanRun, effect: Effect) -> None:
        for setting, value in effect["old"].items():
            setattr(run.agent, COLUMNS[setting], value)

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        return describe(effect["new"])

    def reverts(self, effect: Effect) -> bool:
        return effect["old"] != effect["new"]
