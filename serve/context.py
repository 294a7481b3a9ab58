"""What a Serve replica holds: settings, the store, the templates, Ray handles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from serve.feeds import Feeds
from simfocus.characters.templates import TemplateLibrary
from simfocus.keys.crypto import KeyCipher, load_master_key
from simfocus.settings import Settings
from simfocus.store.engine import create_engine, session_factory


@dataclass
class ApiContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    templates: TemplateLibrary
    feeds: Feeds = field(default_factory=Feeds)
    _handles: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings) -> ApiContext:
        engine = create_engine(
            settings.resolved_database_url,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            pool_size=5,
        )
        return cls(
            settings, engine, session_factory(engine), TemplateLibrary.load(settings.characters_dir)
        )

    def cipher(self) -> KeyCipher:
        """The AES-256-GCM cipher for stored keys (loads or creates the master key once)."""
        if "cipher" not in self._handles:
            self._handles["cipher"] = KeyCipher(load_master_key(self.settings))
        cipher: KeyCipher = self._handles["cipher"]
        return cipher

    def gateway(self) -> Any:
        from actors.builders import gateway_actor

        if "gateway" not in self._handles:
            self._handles["gateway"] = gateway_actor(self.settings)
        return self._handles["gateway"]

    def limits(self) -> Any:
        from actors.builders import api_limits_actor

        if "limits" not in self._handles:
            self._handles["limits"] = api_limits_actor()
        return self._handles["limits"]

    async def aclose(self) -> None:
        await self.engine.dispose()
