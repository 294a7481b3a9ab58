"""User accounts: registration, login, token rotation, email verification, password reset.

Pure services over an ``AsyncSession``: the API routes call them and commit themselves.
"""
