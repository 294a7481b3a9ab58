"""The ``simfocus`` command: the composition root that wires core, actors and Serve."""

from simfocus.cli.main import app, main

__all__ = ["app", "main"]
