"""What the focus group talks about."""
