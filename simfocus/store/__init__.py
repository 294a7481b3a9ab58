"""Persistence: the SQLAlchemy schema, engines and migrations."""
