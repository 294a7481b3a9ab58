"""Transcripts: what a discussion said, as JSON and Markdown files."""
