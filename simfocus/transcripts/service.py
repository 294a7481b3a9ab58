"""Building a transcript from the store, and writing it as JSON and Markdown."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from simfocus.discussions.errors import DiscussionNotFound
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import Message
from simfocus.discussions.service import DiscussionSetup
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
        messages=[_transcript_message(m) for m in messages],
        usage=Usage(
            prompt_tokens=discussion.prompt_tokens,
            completion_tokens=discussion.completion_tokens,
            cost_micro_usd=discussion.cost_micro_usd,
            cost_usd=discussion.cost_micro_usd / 1_000_000,
        ),
        started_at=_iso(discussion.started_at),
        ended_at=_iso(discussion.ended_at),
    )


def build_transcript(
    setup: DiscussionSetup,
    messages: list[Message],
    status: str,
    reason: str | None,
    ended_at: datetime | None = None,
) -> Transcript:
    """The transcript from what a runner holds in memory: the same document that
    ``load_transcript`` reads back from the store, without a read (a batch worker's
    hundred groups would otherwise queue for the store at their end)."""
    said: dict[str, list[Message]] = {}
    for m in messages:
        if m.participant_id:
            said.setdefault(m.participant_id, []).append(m)
    return Transcript(
        discussion_id=setup.discussion_id,
        name=setup.name,
        status=status,
        status_reason=reason,
        topic={
            "title": setup.topic.title,
            "description": setup.topic.description,
            "context": setup.topic.context,
        },
        spec=setup.spec.model_dump(mode="json"),
        simulated=setup.spec.provider.name == "simulated",
        participants=[
            TranscriptParticipant(
                id=p.id,
                position=p.position,
                name=p.character.name,
                profession=p.character.profession,
                initial_stance=p.character.stance.value,
                final_stance=next(
                    (m.stance.value for m in reversed(said.get(p.id, [])) if m.stance), None
                ),
                message_count=len(said.get(p.id, [])),
            )
            for p in setup.participants
        ],
        messages=[_transcript_message(m) for m in messages],
        usage=Usage(
            prompt_tokens=sum(m.prompt_tokens for m in messages),
            completion_tokens=sum(m.completion_tokens for m in messages),
            cost_micro_usd=(cost := sum(m.cost_micro_usd for m in messages)),
            cost_usd=cost / 1_000_000,
        ),
        started_at=_iso(messages[0].created_at if messages else None),
        ended_at=_iso(ended_at),
    )


def _transcript_message(m: Message) -> TranscriptMessage:
    return TranscriptMessage(
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
