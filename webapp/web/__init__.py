"""The agents' web app: sign in by a texted link, the pipeline, each lead's timeline, the agenda,
reports with charts, exports. Server-rendered, usable without JavaScript (there is none).

A channel like SMS and voice: every change a form makes runs as a plan through
`webapp.execution.plans.run_plan_now` with the channel "web", so audit rows, undo by text and
reminders are the same thing whatever the agent used.
"""
