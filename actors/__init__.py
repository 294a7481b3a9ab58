"""Thin Ray shells around the core: persona, moderator and gateway actors."""
