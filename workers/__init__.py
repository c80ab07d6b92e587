"""Celery workers: plan execution, outbound SMS, reminders and the recovery sweep.

`celery -A workers worker` / `celery -A workers beat` find the app in `workers/celery.py`.
"""
