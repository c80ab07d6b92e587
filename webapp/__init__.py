"""Fieldline's web process and the domain it serves; the app factory is `webapp.app`.

Layers, each importing only those below it (tests/test_layers.py pins the order):
db and its vocabulary ← understanding ← outbound, crm, integrations ← execution ← conversation
← channels, web, api, ops ← the entry points (the app factory, the CLI, Celery's tasks). This file
imports nothing, so `import webapp.understanding.parser` loads neither Flask nor Celery.
"""
