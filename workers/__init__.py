"""Celery: the app bound to Flask's config (`flask_celery`), the tasks (`tasks`) and their names.

Only the Celery side lives here; what the tasks do is in `webapp` (execution, outbound).
`celery -A workers worker` / `celery -A workers beat` find the app in `workers/celery.py`.
"""
