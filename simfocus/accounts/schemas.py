"""Request and response bodies of the accounts API (pydantic, validated at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from simfocus.kit.models import InputModel

# Long enough for any passphrase, short enough that hashing it is no denial of service.
# Passwords are stripped like every input (InputModel): register, login and reset all see
# the same stripped value, so this is consistent.
PASSWORD_MAX = 200
NAME_MAX = 120


class RegisterIn(InputModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)
    name: str = Field(min_length=1, max_length=NAME_MAX)


class LoginIn(InputModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class TokenPair(BaseModel):
    model_config = ConfigDict(frozen=True)

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int  # seconds until the access token expires


class RefreshIn(InputModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    email: str
    name: str
    email_verified: bool
    created_at: datetime


class UserPatch(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    password: str | None = Field(default=None, min_length=1, max_length=PASSWORD_MAX)
    current_password: str | None = Field(default=None, min_length=1, max_length=PASSWORD_MAX)

    @model_validator(mode="after")
    def _current_password_with_a_new_one(self) -> Self:
        if self.password is not None and self.current_password is None:
            raise ValueError("current_password is required to change the password")
        return self


class VerifyEmailIn(InputModel):
    token: str = Field(min_length=1, max_length=200)


class ForgotPasswordIn(InputModel):
    email: EmailStr


class ResetPasswordIn(InputModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=PASSWORD_MAX)
