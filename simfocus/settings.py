"""The one ``Settings`` object. Read from the environment (prefix ``SIMFOCUS_``) once, at
the composition root, and passed down explicitly: actors get it as an argument."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_path
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_CONFIGS = Path(__file__).resolve().parent.parent / "configs"
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SIMFOCUS_", extra="ignore", frozen=True, populate_by_name=True
    )

    environment: str = Field(default="development", description="development | test | production")
    data_dir: Path = Field(default_factory=lambda: user_data_path("simfocus", appauthor=False))
    # Empty: an SQLite file in data_dir. Else any SQLAlchemy async URL, e.g.
    # postgresql+asyncpg://user@host:5432/simfocus
    database_url: str = ""
    sqlite_busy_timeout_ms: int = 30_000
    configs_dir: Path = REPO_CONFIGS

    # Ray: empty starts a local cluster; else the cluster to join ("auto", "ray://host:10001").
    ray_address: str = Field(
        default="", validation_alias=AliasChoices("SIMFOCUS_RAY_ADDRESS", "RAY_ADDRESS")
    )
    ray_namespace: str = "simfocus"
    gateway_name: str = "llm_gateway"

    # Persona context: a stable prefix + a summary + a window of recent messages.
    context_window_tokens: int = Field(default=900, ge=100)
    summary_tokens: int = Field(default=300, ge=50)
    report_budget_share: float = Field(default=0.1, ge=0, lt=1)
    # The report writer's prompt limit: longer transcripts are summarised in stages.
    report_context_tokens: int = Field(default=12_000, ge=1_000)
    report_max_tokens: int = Field(default=2_500, ge=200)
    share_password_attempts_per_minute: int = Field(default=5, ge=1)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'simfocus.db'}"

    # LLM endpoints when a study names none (the SDKs' own variables are honoured).
    openai_base_url: str = Field(
        default="", validation_alias=AliasChoices("SIMFOCUS_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    anthropic_base_url: str = Field(
        default="",
        validation_alias=AliasChoices("SIMFOCUS_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"),
    )
    call_log_flush_s: float = Field(default=0.5, gt=0)

    # --- the API (serve/) ---------------------------------------------------------------
    # Signs access tokens (HS256, pinned). Must be set outside development.
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_s: int = Field(default=30 * 86_400, ge=3_600)
    verify_token_ttl_s: int = Field(default=2 * 86_400, ge=600)
    reset_token_ttl_s: int = Field(default=3_600, ge=300)
    # AES-256-GCM key for stored provider keys, base64 (32 bytes). Empty: a key file is
    # generated in data_dir on first use (with a warning) — fine on one machine only.
    master_key: SecretStr = SecretStr("")
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "simfocus@localhost"
    public_url: str = "http://127.0.0.1:8000"
    cors_origins: list[str] = Field(default_factory=list)
    # Browser origins allowed to open WebSockets (besides public_url's and cors_origins);
    # "*" allows any. Clients that send no Origin (CLIs, servers) are not browsers: allowed.
    ws_origins: list[str] = Field(default_factory=list)
    ws_messages_per_second: float = Field(default=10.0, gt=0)
    ws_message_burst: int = Field(default=30, ge=1)
    # Rate limits of the API (per IP for auth, per user otherwise).
    auth_per_minute: int = Field(default=5, ge=1)
    mutations_per_minute: int = Field(default=60, ge=1)
    discussions_per_hour: int = Field(default=10, ge=1)
    websockets_per_user: int = Field(default=5, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1_000)
    # Prefix of the rate-limit counters: apps that share a cluster but not their limits.
    rate_limit_scope: str = ""
    # Retention: ended discussions, spent tokens, sent mail and call logs older than this
    # are purged (`simfocus db purge`; each API replica checks every interval).
    retention_days: int = Field(default=90, ge=1)
    retention_interval_s: float = Field(default=3600, gt=0)

    @model_validator(mode="after")
    def _no_default_secrets_outside_development(self) -> Settings:
        if self.environment not in ("development", "test") and (
            self.jwt_secret.get_secret_value() == DEV_JWT_SECRET
        ):
            raise ValueError(
                "SIMFOCUS_JWT_SECRET must be set outside development (e.g. `openssl rand -hex 32`)"
            )
        return self

    @property
    def allowed_ws_origins(self) -> set[str]:
        from urllib.parse import urlsplit

        public = urlsplit(self.public_url)
        return {f"{public.scheme}://{public.netloc}", *self.cors_origins, *self.ws_origins}

    @property
    def base_urls(self) -> dict[str, str]:
        urls = {"openai": self.openai_base_url, "anthropic": self.anthropic_base_url}
        return {name: url for name, url in urls.items() if url}

    @property
    def gateway_config_file(self) -> Path:
        return self.configs_dir / "llm.yaml"

    @property
    def pricing_file(self) -> Path:
        return self.configs_dir / "pricing.yaml"

    @property
    def characters_dir(self) -> Path:
        return self.configs_dir / "characters"
