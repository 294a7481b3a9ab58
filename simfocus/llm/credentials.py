"""Where the gateway finds API keys. The only place that reads them.

Keys come from an environment variable of the gateway's own process (``OPENAI_API_KEY``,
``ANTHROPIC_API_KEY`` or one a study names) or, for stored per-user keys, from a resolver
the API wires in. A key is read when a provider is built and lives only in that
provider's HTTP client headers: never in a request, an event, the object store or a log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from simfocus.llm.config import is_official
from simfocus.llm.errors import MissingApiKey
from simfocus.llm.schemas import ProviderConfig

DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

StoredKeyResolver = Callable[[str], str]


class Credentials:
    def __init__(self, environ: Mapping[str, str], stored: StoredKeyResolver | None = None) -> None:
        self._environ = environ
        self._stored = stored

    def key_ref(self, config: ProviderConfig) -> str:
        """A name for the key that is safe to log and to key limits and breakers on."""
        if config.api_key_id:
            return f"id:{config.api_key_id}"
        return f"env:{config.api_key_env or DEFAULT_KEY_ENV.get(config.name, '')}"

    def api_key(self, config: ProviderConfig) -> str | None:
        if config.name == "simulated":
            return None
        if config.api_key_id:
            if self._stored is None:
                raise MissingApiKey("stored API keys are not available here", field="api_key_id")
            return self._stored(config.api_key_id)
        env = config.api_key_env or DEFAULT_KEY_ENV[config.name]
        key = self._environ.get(env, "").strip()
        if key:
            return key
        if is_official(config):
            raise MissingApiKey(
                f"no API key for {config.name}: set {env} in the environment of the Ray "
                f"cluster (or name another variable with --api-key-env)",
                field="api_key_env",
            )
        return None  # self-hosted servers often need none
