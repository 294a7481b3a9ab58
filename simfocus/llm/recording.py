"""Record and replay provider calls, for reproducible reruns with no network.

``RecordingProvider`` wraps a real provider and appends each request and its answer to a
JSON-lines file. ``ReplayProvider`` answers from such a file: a request is matched by a
hash of everything that shapes the answer (model, system prompt, messages, max_tokens,
temperature, seed); identical requests are answered in the order they were recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from simfocus.llm.base import LLMProvider
from simfocus.llm.errors import LLMError
from simfocus.llm.schemas import Completion, CompletionRequest

RECORDING_FILE = "recording.jsonl"


class ReplayMiss(LLMError):
    code = "REPLAY_MISS"
    status = 409


def request_key(request: CompletionRequest) -> str:
    shape = {
        "model": request.model,
        "system": request.system,
        "messages": [[m.role, m.content] for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "seed": request.seed,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def recording_path(path: str | Path) -> Path:
    """A run folder or the recording file itself."""
    path = Path(path)
    return path / RECORDING_FILE if path.is_dir() or not path.suffix else path


class RecordingProvider(LLMProvider):
    def __init__(self, inner: LLMProvider, path: str | Path) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.simulated = inner.simulated  # type: ignore[misc]
        self.path = recording_path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _write(self, request: CompletionRequest, completion: Completion) -> None:
        entry = {
            "key": request_key(request),
            "model": request.model,
            "completion": completion.model_dump(mode="json", exclude={"rate_headers"}),
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    async def complete(self, request: CompletionRequest) -> Completion:
        completion = await self.inner.complete(request)
        self._write(request, completion)
        return completion

    async def stream(self, request: CompletionRequest) -> AsyncIterator[str | Completion]:
        async for piece in self.inner.stream(request):
            if isinstance(piece, Completion):
                self._write(request, piece)
            yield piece

    async def aclose(self) -> None:
        await self.inner.aclose()


class ReplayProvider(LLMProvider):
    def __init__(self, path: str | Path, *, name: str, simulated: bool = False) -> None:
        self.name = name  # type: ignore[misc]
        self.simulated = simulated  # type: ignore[misc]
        self.path = recording_path(path)
        self._answers: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise ReplayMiss(
                f"cannot read the recording {self.path}: {e.strerror}", field="replay"
            ) from None
        for line in lines:
            if line.strip():
                entry = json.loads(line)
                self._answers[entry["key"]].append(entry["completion"])

    def _answer(self, request: CompletionRequest) -> Completion:
        queue = self._answers.get(request_key(request))
        if not queue:
            raise ReplayMiss(
                f"this call is not in the recording {self.path}: the study, seed or "
                f"settings differ from the recorded run",
                field="replay",
            )
        return Completion.model_validate(queue.popleft())

    async def complete(self, request: CompletionRequest) -> Completion:
        return self._answer(request)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[str | Completion]:
        completion = self._answer(request)
        words = completion.text.split(" ")
        for i in range(0, len(words), 8):
            yield (" " if i else "") + " ".join(words[i : i + 8])
        yield completion
