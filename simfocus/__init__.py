"""simFocus: AI virtual focus groups.

The core package: pure domain logic and I/O adapters, importable without Ray or an
HTTP framework (the one exception is the CLI entry module, ``simfocus.cli``).
"""

__version__ = "0.1.0"
