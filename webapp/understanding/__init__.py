"""Command understanding: text in, plan out.

Nothing in this package knows about Flask, Celery, Redis or Twilio. The parser gets the agent's
context (time zone, country, leads, and a read-only `Book` for open follow-ups and interactions)
and "now" as plain inputs, so SMS, voice and the CLI share it and it can be tested without any
service running.
"""
