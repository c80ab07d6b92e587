"""Persistence: typed SQLAlchemy models, engine/session handling and Alembic migrations.

The database is the source of truth for everything an agent was told will happen.
"""
