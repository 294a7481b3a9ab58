"""Request and response bodies for stored provider keys. No output carries the key."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from simfocus.kit.models import InputModel

Provider = Literal["openai", "anthropic"]
HINT_CHARS = 4


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username:
        raise ValueError("must be an http(s) URL without credentials")
    return value


HttpUrlStr = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_http_url)]
KeyName = Annotated[str, Field(min_length=1, max_length=120)]
Model = Annotated[str, Field(min_length=1, max_length=120)]


def _check_secret(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value().strip()
    if not 8 <= len(raw) <= 500:
        raise ValueError("an API key has 8 to 500 characters")
    if any(c.isspace() or not c.isprintable() for c in raw):
        raise ValueError("an API key contains no spaces or control characters")
    return SecretStr(raw)


# Stripping and the length rule are checked on the SecretStr, never on a plain str.
Secret = Annotated[SecretStr, AfterValidator(_check_secret)]


class _MasksKey(InputModel):
    @model_validator(mode="before")
    @classmethod
    def _mask_early(cls, data: Any) -> Any:
        # Wrapped before field validation: a validation error then shows '**********' as
        # its input instead of the key (FastAPI echoes inputs in 422 bodies).
        if isinstance(data, dict) and isinstance(data.get("api_key"), str):
            return {**data, "api_key": SecretStr(data["api_key"])}
        return data


class ApiKeyIn(_MasksKey):
    provider: Provider
    key_name: KeyName
    api_key: Secret
    api_base_url: HttpUrlStr | None = None
    default_model: Model | None = None


class ApiKeyPatch(_MasksKey):
    """Fields present are changed; ``api_base_url``/``default_model`` set to null clear."""

    key_name: KeyName | None = None
    api_base_url: HttpUrlStr | None = None
    default_model: Model | None = None
    api_key: Secret | None = None  # rotate: replaces the stored key


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    provider: str
    key_name: str
    key_hint: str  # "…" and the last 4 characters
    api_base_url: str | None
    default_model: str | None
    created_at: datetime
    last_used_at: datetime | None
