"""Personas: who sits at the table."""
