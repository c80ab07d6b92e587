"""Command understanding: text in, plan out.

Nothing in this package knows about Flask, Celery, Redis or Twilio. The parser gets the agent's
context (time zone, country, leads, a read-only `Book` for open follow-ups and interactions, and
the agent's note templates and newest email draft, each read only when needed) and "now" as
plain inputs, so SMS, voice and the CLI share it and it can be tested without any
service running.
"""
