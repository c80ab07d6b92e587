"""Every Celery task's name, written once: the task decorators and beat's schedule use these.

The names are what a queued message carries, so they outlive a deploy: a task renamed here
would leave its in-flight copies with nobody to run them. Change one only with a migration of
the queue (or after draining it).
"""

RUN_PLAN = "workers.tasks.run_plan"
SEND_MESSAGE = "workers.outbound.send_message"
RECOVER_CONFIRMED_PLANS = "workers.tasks.recover_confirmed_plans"
DISPATCH_REMINDERS = "workers.tasks.dispatch_reminders"
DISPATCH_AGENDAS = "workers.tasks.dispatch_agendas"
DISPATCH_LEAD_ALERTS = "workers.tasks.dispatch_lead_alerts"
WRITE_AGENDAS = "workers.tasks.write_agendas"
DELIVER_WEBHOOKS = "workers.tasks.deliver_webhooks"
SWEEP_WEBHOOKS = "workers.tasks.sweep_webhooks"
PRUNE_IDEMPOTENCY_KEYS = "workers.tasks.prune_idempotency_keys"
