"""How the web side hands work to the workers, without knowing Celery.

The app factory builds one `TaskQueue` from the Celery tasks and keeps it in
`app.extensions["task_queue"]`; channels and the conversation call these with ids of rows they
have already committed. Each returns whether the broker took the id and never raises for a
broker outage: the committed row is what the recovery sweep finds again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TaskQueue:
    run_plan: Callable[[str], bool]
    send_message: Callable[[int], bool]
