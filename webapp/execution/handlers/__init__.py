"""One handler per action type, in one table: adding an action is one module and one line here.

Cosmic Python's command handlers are the model: each handler module holds its action's apply
and undo side by side, and `webapp.execution.plans` looks the handler up by the action's type.
"""

from __future__ import annotations

from webapp.execution.handlers.agent_settings import UpdateSettings
from webapp.execution.handlers.base import ActionHandler, Effect, PlanRejected, PlanRun
from webapp.execution.handlers.follow_up_changes import (
    CancelFollowUp,
    CompleteFollowUp,
    RescheduleFollowUp,
)
from webapp.execution.handlers.follow_ups import ScheduleFollowUp
from webapp.execution.handlers.interactions import LogInteraction
from webapp.execution.handlers.lead_details import UpdateLead
from webapp.execution.handlers.leads import CreateLead
from webapp.execution.handlers.note_templates import DeleteTemplate, SaveTemplate
from webapp.execution.handlers.status import UpdateStatus

HANDLERS: dict[str, ActionHandler] = {
    handler.type: handler
    for handler in (UpdateStatus(), LogInteraction(), ScheduleFollowUp(), CreateLead(),
                    RescheduleFollowUp(), CancelFollowUp(), CompleteFollowUp(), UpdateLead(),
                    SaveTemplate(), DeleteTemplate(), UpdateSettings())
}


def handler_for(action_type: str) -> ActionHandler:
    """The handler of `action_type`; an unknown type rejects the whole plan."""
    handler = HANDLERS.get(action_type)
    if handler is None:
        raise PlanRejected(f"unknown action {action_type!r}")
    return handler


__all__ = ["HANDLERS", "ActionHandler", "Effect", "PlanRejected", "PlanRun", "handler_for"]
