"""A persona's mind: its memory, its prompts and how it reads its own replies."""
