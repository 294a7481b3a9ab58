"""Alembic environment: runs on a connection handed in by ``simfocus.store.migrate``."""

from __future__ import annotations

from alembic import context

from simfocus.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with 'simfocus db upgrade' (it hands Alembic a connection)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
