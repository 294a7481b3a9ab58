"""Building a transcript from the store, and writing it as JSON and Markdown."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from simfocus.discussions.errors import DiscussionNotFound
from simfocus.discussions.repository import DiscussionRepository
from simfocus.transcripts.schemas import (
    Transcript,
    TranscriptMessage,
    TranscriptParticipant,
    Usage,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def load_transcript(repo: DiscussionRepository, discussion_id: str) -> Transcript:
    discussion = await repo.get(discussion_id)
    if discussion is None:
        raise DiscussionNotFound(f"no discussion {discussion_id}", field="discussion_id")
    topic = await repo.topic(discussion.topic_id)
    seats = await repo.participants(discussion_id)
    messages = await repo.messages(discussion_id)
    return Transcript(
        discussion_id=discussion.id,
        name=discussion.name,
        status=discussion.status,
        status_reason=discussion.status_reason,
        topic={"title": topic.title, "description": topic.description, "context": topic.context}
        if topic
        else {},
        spec=discussion.spec,
        simulated=discussion.llm_provider == "simulated",
        participants=[
            TranscriptParticipant(
                id=s.id,
                position=s.position,
                name=s.name,
                profession=s.character_snapshot.get("profession", ""),
                initial_stance=s.character_snapshot.get("stance", "neutral"),
                final_stance=s.current_stance,
                message_count=s.message_count,
            )
            for s in seats
        ],
        messages=[
            TranscriptMessage(
                seq=m.seq,
                round=m.round,
                phase=m.phase.value,
                role=m.role,
                kind=m.kind,
                speaker=m.speaker_name,
                participant_id=m.participant_id,
                content=m.content,
                stance=m.stance.value if m.stance else None,
                responds_to_seq=m.responds_to_seq,
                prompt_tokens=m.prompt_tokens,
                completion_tokens=m.completion_tokens,
                cost_micro_usd=m.cost_micro_usd,
                simulated=m.simulated,
                created_at=m.created_at.isoformat(),
            )
            for m in messages
        ],
        usage=Usage(
            prompt_tokens=discussion.prompt_tokens,
            completion_tokens=discussion.completion_tokens,
            cost_micro_usd=discussion.cost_micro_usd,
            cost_usd=discussion.cost_micro_usd / 1_000_000,
        ),
        started_at=_iso(discussion.started_at),
        ended_at=_iso(discussion.ended_at),
    )


def render_markdown(t: Transcript) -> str:
    provider = t.spec.get("provider", {})
    lines = [f"# {t.name or t.topic.get('title', 'Discussion')}", ""]
    if t.simulated:
        lines += [
            "> **Simulated**: these replies were written by simFocus's offline simulated "
            "provider, not by a language model.",
            "",
        ]
    lines += [
        f"- Discussion: `{t.discussion_id}`",
        f"- Status: **{t.status}**" + (f" — {t.status_reason}" if t.status_reason else ""),
        f"- Mode: {t.spec.get('mode')} · rounds: {t.spec.get('max_rounds')} · "
        f"model: {provider.get('name')}/{provider.get('model')}",
        f"- Usage: {t.usage.prompt_tokens} prompt + {t.usage.completion_tokens} completion tokens, "
        f"${t.usage.cost_usd:.4f}",
        "",
        "## Topic",
        "",
        f"**{t.topic.get('title', '')}**",
        "",
    ]
    if t.topic.get("description"):
        lines += [t.topic["description"], ""]
    lines += [
        "## Panel",
        "",
        "| # | Name | Profession | Stance at start | Stance at end | Messages |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p.position + 1} | {p.name} | {p.profession} | {p.initial_stance} | "
        f"{p.final_stance or '—'} | {p.message_count} |"
        for p in t.participants
    ]
    lines += ["", "## Transcript", ""]
    phase = None
    for m in t.messages:
        if m.phase != phase:
            phase = m.phase
            lines += [f"### {phase.capitalize()}", ""]
        stance = f" _({m.stance})_" if m.stance else ""
        label = "❓ " if m.kind == "question" else ""
        lines += [f"**[{m.seq}] {label}{m.speaker}** · round {m.round}{stance}", "", m.content, ""]
    return "\n".join(lines).rstrip() + "\n"


def write_transcript(t: Transcript, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "transcript.json"
    md_path = out_dir / "transcript.md"
    json_path.write_text(json.dumps(t.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(render_markdown(t))
    return json_path, md_path
