"""Prompts are data: jinja2 templates rendered by one pure function."""
