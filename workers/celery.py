"""Entry module for `celery -A workers ...`: the Celery app bound to the Flask app's config."""

from webapp.app import create_app

flask_app = create_app()
app = flask_app.extensions["celery"]
