"""The ``simfocus`` command, as a user runs it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from simfocus.cli import app
from simfocus.settings import REPO_CONFIGS, Settings
from simfocus.store.engine import create_engine
from simfocus.store.migrate import upgrade
from simfocus.store.models import DiscussionRow

runner = CliRunner()


def env_for(data_dir: Path) -> dict[str, str]:
    return {"SIMFOCUS_DATA_DIR": str(data_dir), "SIMFOCUS_DATABASE_URL": ""}


def small_study(tmp_path: Path, **discussion: object) -> Path:
    data = yaml.safe_load((REPO_CONFIGS / "studies" / "meal_kit_free.yaml").read_text())
    data["panel"] = data["panel"][:3]
    data["discussion"].update(
        {"max_rounds": 2, "pacing_s": 0, "provider": {"name": "simulated", "latency_ms": 0}}
    )
    data["discussion"].update(discussion)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.ray
@pytest.mark.usefixtures("ray_cluster")
def test_run_prints_live_and_writes_the_transcript(tmp_path: Path, settings: Settings) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "run",
            str(small_study(tmp_path)),
            "--mode",
            "consensus",
            "--rounds",
            "3",
            "--seed",
            "5",
            "--out",
            str(out),
        ],
        env={"SIMFOCUS_DATA_DIR": str(settings.data_dir)},
    )
    assert result.exit_code == 0, result.output
    assert "simulated" in result.output
    assert "Moderator" in result.output and "completed" in result.output
    transcript = json.loads((out / "transcript.json").read_text())
    assert transcript["status"] == "completed" and transcript["simulated"] is True
    assert transcript["spec"]["mode"] == "consensus" and transcript["spec"]["max_rounds"] == 3
    persona = [m for m in transcript["messages"] if m["role"] == "persona"]
    assert len(persona) == 9
    for m in persona:
        assert {
            "seq",
            "round",
            "phase",
            "speaker",
            "content",
            "prompt_tokens",
            "completion_tokens",
        } <= set(m)
        assert m["content"] in result.output.replace("\n", " ") or m["speaker"] in result.output
    assert transcript["usage"]["prompt_tokens"] == sum(
        m["prompt_tokens"] for m in transcript["messages"]
    )
    assert transcript["usage"]["cost_usd"] > 0
    md = (out / "transcript.md").read_text()
    assert "Simulated" in md and persona[0]["content"] in md


def test_a_bad_study_exits_2_naming_file_and_field_and_writes_nothing(tmp_path: Path) -> None:
    study = small_study(tmp_path, max_rounds=500)
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "simfocus", "run", str(study)],
        capture_output=True,
        text=True,
        env={**env_for(data_dir), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 2
    assert str(study) in result.stderr and "discussion.max_rounds" in result.stderr
    assert "Traceback" not in result.stderr
    # nothing half-written: the store was not even created
    assert not (data_dir / "simfocus.db").exists()


def test_unknown_template_and_mode_are_clear(tmp_path: Path) -> None:
    data = yaml.safe_load(small_study(tmp_path).read_text())
    data["panel"][1] = {"template": "wizard"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["run", str(bad)], env=env_for(tmp_path / "d"))
    assert result.exit_code == 2
    assert "panel[1].template" in result.output and "wizard" in result.output
    result = runner.invoke(
        app, ["run", str(bad), "--mode", "shouting"], env=env_for(tmp_path / "d")
    )
    assert result.exit_code == 2


def test_templates_lists_the_personas() -> None:
    result = runner.invoke(app, ["templates"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "night_shift_nurse" in result.output and "software_engineer" in result.output


HEAD = max(
    p.name.split("_")[0]
    for p in (Path(__file__).parents[2] / "simfocus/store/migrations/versions").glob("0*.py")
)


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade"], env=env_for(tmp_path))
        assert result.exit_code == 0, result.output
        assert f"revision {HEAD}" in result.output

    async def count() -> int | None:
        engine: AsyncEngine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'simfocus.db'}")
        await upgrade(engine)
        async with engine.connect() as conn:
            n = await conn.scalar(select(func.count()).select_from(DiscussionRow))
        await engine.dispose()
        return n

    assert asyncio.run(count()) == 0


def test_ctrl_c_stops_cleanly_and_keeps_the_transcript(tmp_path: Path) -> None:
    """A real `simfocus run` in its own process (and its own local Ray), interrupted."""
    import os
    import signal
    import time

    study = small_study(tmp_path, max_rounds=40, provider={"name": "simulated", "latency_ms": 300})
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simfocus", "run", str(study), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env_for(tmp_path / "data"), "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stdout:  # wait until the discussion is visibly under way
        seen.append(line)
        if "#4 " in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    output = "".join(seen) + rest
    assert proc.returncode == 0, output
    assert "Stopping" in output and "stopped" in output
    transcript = json.loads((out / "transcript.json").read_text())
    assert transcript["status"] == "stopped"
    assert "Ctrl-C" in transcript["status_reason"]
    assert len(transcript["messages"]) >= 4
    assert [m["seq"] for m in transcript["messages"]] == list(
        range(1, len(transcript["messages"]) + 1)
    )


@pytest.mark.ray
@pytest.mark.usefixtures("ray_cluster")
def test_record_then_replay_gives_the_same_transcript_without_network(
    tmp_path: Path, settings: Settings
) -> None:
    from tests.conftest import PLANTED_KEY, PLANTED_KEY_ENV
    from tests.fakes.llm_servers import FakeLLMServer

    study = str(small_study(tmp_path))
    env = {"SIMFOCUS_DATA_DIR": str(settings.data_dir), "COLUMNS": "300"}
    with FakeLLMServer("openai", api_key=PLANTED_KEY) as server:
        base = [
            "--provider",
            "openai",
            "--model",
            "gpt-test",
            "--base-url",
            server.base_url,
            "--api-key-env",
            PLANTED_KEY_ENV,
        ]
        first = runner.invoke(
            app, ["run", study, *base, "--record", "--out", str(tmp_path / "a")], env=env
        )
        assert first.exit_code == 0, first.output
        calls = len(server.requests)
    assert (tmp_path / "a" / "recording.jsonl").is_file()
    # the server is gone: a replay must not need it
    second = runner.invoke(
        app,
        ["run", study, *base, "--replay", str(tmp_path / "a"), "--out", str(tmp_path / "b")],
        env=env,
    )
    assert second.exit_code == 0, second.output
    a = json.loads((tmp_path / "a" / "transcript.json").read_text())
    b = json.loads((tmp_path / "b" / "transcript.json").read_text())
    # 6 turns, and the report asked twice (the fake server does not write JSON)
    assert calls == 8 and a["status"] == b["status"] == "completed"
    strip = [
        {
            k: m[k]
            for k in (
                "seq",
                "speaker",
                "content",
                "prompt_tokens",
                "completion_tokens",
                "cost_micro_usd",
            )
        }
        for m in a["messages"]
    ]
    assert strip == [{k: m[k] for k in strip[0]} for m in b["messages"]]
    assert a["usage"] == b["usage"]
    missing = runner.invoke(app, ["run", study, "--replay", str(tmp_path / "nothing")], env=env)
    assert missing.exit_code == 2 and "no recording" in missing.output


def test_estimate_prints_expected_and_worst_case() -> None:
    study = str(REPO_CONFIGS / "studies" / "meal_kit_free.yaml")
    result = runner.invoke(
        app,
        [
            "estimate",
            study,
            "--provider",
            "anthropic",
            "--model",
            "claude-sonnet-4",
            "--budget",
            "0.05",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "expected" in result.output and "worst case" in result.output
    assert "does not fit" in result.output
    ok = runner.invoke(app, ["estimate", study], env={"COLUMNS": "200"})
    assert "the worst case fits" in ok.output


@pytest.mark.ray
@pytest.mark.usefixtures("ray_cluster")
def test_resume_continues_an_interrupted_discussion(tmp_path: Path, settings: Settings) -> None:
    import ray

    from actors.builders import gateway_actor, moderator_actor
    from simfocus.characters.templates import TemplateLibrary
    from simfocus.cli.runs import prepare_store
    from simfocus.discussions.schemas import Mode
    from tests.factories import create_study

    study = create_study(
        TemplateLibrary.load(REPO_CONFIGS / "characters"),
        mode=Mode.CREATIVE,
        personas=2,
        rounds=3,
        latency_ms=200,
    )
    setup = asyncio.run(prepare_store(settings, study))
    moderator = moderator_actor(settings, setup.discussion_id, gateway_actor(settings))
    ray.get(moderator.start.remote())
    while ray.get(moderator.snapshot.remote()).last_seq < 3:
        ray.get(moderator.events_since.remote(0, None, 1.0))
    ray.kill(moderator)  # interrupted: the store still says "running"
    out = tmp_path / "resumed"
    env = {"SIMFOCUS_DATA_DIR": str(settings.data_dir), "COLUMNS": "200"}
    result = runner.invoke(app, ["resume", setup.discussion_id, "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    transcript = json.loads((out / "transcript.json").read_text())
    assert transcript["status"] == "completed"
    persona = [m for m in transcript["messages"] if m["role"] == "persona"]
    assert len(persona) == 2 * 3
    assert [m["seq"] for m in transcript["messages"]] == list(
        range(1, len(transcript["messages"]) + 1)
    )
    again = runner.invoke(app, ["resume", setup.discussion_id], env=env)
    assert again.exit_code == 2 and "nothing to resume" in again.output
