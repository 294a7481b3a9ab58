"""Reports over the API: written when a discussion ends (``report_ready`` on the socket),
exported in every format, shared by link, compared, and measured as analytics."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import jsonschema
import pypdf
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.sync.client import connect

from simfocus.reports.exports.json_export import report_json_schema
from simfocus.reports.text import words
from simfocus.store.engine import session_factory
from simfocus.store.models import ShareLink
from tests.serve.conftest import Account, Api, register
from tests.serve.test_api_journey import data, error, make_discussion

pytestmark = [pytest.mark.ray]


def run_to_report(api: Api, who: Account, rounds: int = 2) -> tuple[str, list[dict[str, Any]]]:
    """Start a discussion, watch it to the end on the socket, return its events."""
    discussion_id = make_discussion(api, who, rounds=rounds)
    with api.client(who.token) as c:
        data(c.post(f"/v1/discussions/{discussion_id}/start"))
    with connect(f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={who.token}") as ws:
        ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
        events = [json.loads(raw) for raw in ws]
    return discussion_id, events


@pytest.fixture(scope="module")
def owner(api: Api) -> Account:
    return register(api, "Reporter")


@pytest.fixture(scope="module")
def finished(api: Api, owner: Account) -> tuple[str, list[dict[str, Any]]]:
    return run_to_report(api, owner)


def test_the_report_is_written_when_the_discussion_ends_and_announced_on_the_socket(
    api: Api, owner: Account, finished: tuple[str, list[dict[str, Any]]]
) -> None:
    discussion_id, events = finished
    ready = [e for e in events if e["type"] == "report_ready"]
    assert len(ready) == 1 and ready[0]["data"]["status"] == "ready"
    assert events.index(ready[0]) > max(i for i, e in enumerate(events) if e["type"] == "message")
    with api.client(owner.token) as c:
        assert data(c.get(f"/v1/discussions/{discussion_id}"))["report_status"] == "ready"
        report = data(c.get(f"/v1/discussions/{discussion_id}/report"))
    assert report["status"] == "ready" and report["simulated"] is True
    sections = report["sections"]
    assert sections["overview"]["citations"] and len(sections["viewpoints"]) == 3
    scores = report["quality_scores"]
    assert 0 <= scores["participation_balance"] <= 1 and len(scores["stance_movement"]) == 3
    assert report["analytics"]["persona_messages"] == 6
    assert report["generation_time_ms"] >= report["processing_time_ms"] >= 0
    # a late watcher of the ended discussion is told too
    with connect(f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={owner.token}") as ws:
        ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
        late = [json.loads(raw) for raw in ws]
    assert [e["data"]["status"] for e in late if e["type"] == "report_ready"] == ["ready"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def test_every_export_opens(
    api: Api, owner: Account, finished: tuple[str, list[dict[str, Any]]]
) -> None:
    discussion_id, _ = finished
    with api.client(owner.token) as c:
        report = data(c.get(f"/v1/discussions/{discussion_id}/report"))
        names = [v["name"] for v in report["sections"]["viewpoints"]]
        base = f"/v1/reports/{report['id']}/export"
        md = c.get(f"{base}/md")
        html = c.get(f"{base}/html")
        pdf = c.get(f"{base}/pdf")
        doc = c.get(f"{base}/json")
        csv_ = c.get(f"{base}/csv")
        bad = c.get(f"{base}/docx")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert all(n in md.text for n in names)
    parser = _Tags()
    parser.feed(html.text)
    assert html.status_code == 200 and parser.tags.count("svg") == 2 and "html" in parser.tags
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 2 and all(n.split()[0] in text for n in names)
    jsonschema.validate(doc.json(), report_json_schema())
    rows = list(csv.DictReader(io.StringIO(csv_.text)))
    assert len(rows) == report["analytics"]["messages"]
    assert bad.status_code == 422


def test_reports_and_exports_of_others_are_not_found(
    api: Api, owner: Account, finished: tuple[str, list[dict[str, Any]]]
) -> None:
    discussion_id, _ = finished
    mallory = register(api, "Mallory")
    with api.client(owner.token) as c:
        report_id = data(c.get(f"/v1/discussions/{discussion_id}/report"))["id"]
    with api.client(mallory.token) as c:
        assert error(c.get(f"/v1/discussions/{discussion_id}/report"), 404)["code"] == (
            "DISCUSSION_NOT_FOUND"
        )
        assert error(c.get(f"/v1/reports/{report_id}/export/md"), 404)["code"] == (
            "REPORT_NOT_FOUND"
        )
        assert error(c.get(f"/v1/discussions/{discussion_id}/analytics"), 404)
        assert error(c.post(f"/v1/discussions/{discussion_id}/share", json={}), 404)
        assert error(c.post(f"/v1/discussions/{discussion_id}/report/regenerate"), 404)


def test_regenerate_rewrites_the_report(
    api: Api, owner: Account, finished: tuple[str, list[dict[str, Any]]]
) -> None:
    discussion_id, _ = finished
    with api.client(owner.token) as c:
        before = data(c.get(f"/v1/discussions/{discussion_id}/report"))
        accepted = data(c.post(f"/v1/discussions/{discussion_id}/report/regenerate"), 202)
        assert accepted["status"] == "generating"
        again = error(c.post(f"/v1/discussions/{discussion_id}/report/regenerate"), 409)
        assert again["code"] == "REPORT_NOT_READY"
        deadline = time.monotonic() + 60
        while True:
            after = data(c.get(f"/v1/discussions/{discussion_id}/report"))
            if after["status"] != "generating" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert after["status"] == "ready" and after["id"] == before["id"]
    assert after["updated_at"] > before["updated_at"]
    assert after["sections"] == before["sections"]  # the simulated writer is deterministic


def test_a_running_discussion_has_no_report_yet_and_cannot_regenerate(
    api: Api, owner: Account
) -> None:
    discussion_id = make_discussion(api, owner, rounds=2)
    with api.client(owner.token) as c:
        assert error(c.get(f"/v1/discussions/{discussion_id}/report"), 404)["code"] == (
            "REPORT_NOT_FOUND"
        )
        assert error(c.post(f"/v1/discussions/{discussion_id}/report/regenerate"), 409)


def test_share_links_with_and_without_password_expired_and_revoked(
    api: Api,
    owner: Account,
    finished: tuple[str, list[dict[str, Any]]],
    sqlite_engine: AsyncEngine,
) -> None:
    discussion_id, _ = finished
    with api.client(owner.token) as c:
        open_link = data(c.post(f"/v1/discussions/{discussion_id}/share", json={}), 201)
        locked = data(
            c.post(f"/v1/discussions/{discussion_id}/share", json={"password": "s3cret-pass"}), 201
        )
        short = data(c.post(f"/v1/discussions/{discussion_id}/share", json={"expires_in": 60}), 201)
        bad = error(c.post(f"/v1/discussions/{discussion_id}/share", json={"expires_in": 5}), 422)
        assert bad["field"].endswith("expires_in")
    assert locked["has_password"] and not open_link["has_password"]
    assert "password" not in json.dumps(locked).replace("has_password", "")
    with api.client() as anon:  # no token: a share link is public
        page = anon.get(f"/s/{open_link['slug']}", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "<svg" in page.text
        shared = data(anon.get(f"/s/{open_link['slug']}", params={"format": "json"}))
        assert shared["report"]["status"] == "ready" and shared["transcript"]["messages"]
        assert error(anon.get(f"/s/{locked['slug']}"), 401)["code"] == "SHARE_PASSWORD_REQUIRED"
        form = anon.get(f"/s/{locked['slug']}", headers={"Accept": "text/html"})
        assert form.status_code == 401 and "<form" in form.text
        wrong = anon.get(f"/s/{locked['slug']}", headers={"X-Share-Password": "nope-nope"})
        assert error(wrong, 403)["code"] == "SHARE_PASSWORD_WRONG"
        right = anon.get(f"/s/{locked['slug']}", headers={"X-Share-Password": "s3cret-pass"})
        assert data(right)["report"]["discussion_id"] == discussion_id
        posted = anon.post(f"/s/{locked['slug']}", data={"password": "s3cret-pass"})
        assert posted.status_code == 200 and "<svg" in posted.text
        # wrong passwords are rate-limited per link and client
        codes = [
            anon.get(f"/s/{locked['slug']}", headers={"X-Share-Password": f"guess-{i}"}).status_code
            for i in range(api.settings.share_password_attempts_per_minute + 1)
        ]
        assert codes[-1] == 429
        assert error(anon.get("/s/not-a-real-slug"), 404)["code"] == "SHARE_LINK_NOT_FOUND"

    async def expire() -> None:
        async with session_factory(sqlite_engine)() as session, session.begin():
            await session.execute(
                update(ShareLink)
                .where(ShareLink.id == short["id"])
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )

    import asyncio

    asyncio.run(expire())
    with api.client(owner.token) as c:
        revoked = data(c.delete(f"/v1/discussions/{discussion_id}/shares/{open_link['id']}"))
        assert revoked["active"] is False and revoked["revoked_at"]
        listed = {s["id"]: s for s in data(c.get(f"/v1/discussions/{discussion_id}/shares"))}
    assert listed[open_link["id"]]["access_count"] == 2
    assert listed[short["id"]]["active"] is False
    with api.client() as anon:
        assert error(anon.get(f"/s/{open_link['slug']}"), 410)["code"] == "SHARE_LINK_GONE"
        assert error(anon.get(f"/s/{short['slug']}"), 410)["code"] == "SHARE_LINK_GONE"
        gone = anon.get(f"/s/{short['slug']}", headers={"Accept": "text/html"})
        assert gone.status_code == 410 and "expired" in gone.text
    other = register(api, "Eve")
    with api.client(other.token) as c:  # another user cannot list or revoke them
        assert error(c.get(f"/v1/discussions/{discussion_id}/shares"), 404)
        assert error(c.delete(f"/v1/discussions/{discussion_id}/shares/{locked['id']}"), 404)


def test_analytics_and_compare_on_known_data(
    api: Api, owner: Account, finished: tuple[str, list[dict[str, Any]]]
) -> None:
    discussion_id, _ = finished
    second, _ = run_to_report(api, owner, rounds=3)
    with api.client(owner.token) as c:
        analytics = data(c.get(f"/v1/discussions/{discussion_id}/analytics"))
        messages = data(
            c.get(f"/v1/discussions/{discussion_id}/messages", params={"per_page": 100})
        )
        comparison = data(
            c.post("/v1/discussions/compare", json={"discussion_ids": [discussion_id, second]})
        )
        too_few = error(c.post("/v1/discussions/compare", json={"discussion_ids": [second]}), 422)
        twice = error(
            c.post("/v1/discussions/compare", json={"discussion_ids": [second, second]}), 422
        )
        stranger = error(
            c.post(
                "/v1/discussions/compare",
                json={"discussion_ids": [second, "00000000-0000-0000-0000-000000000000"]},
            ),
            404,
        )
    persona = [m for m in messages if m["role"] == "persona"]
    assert analytics["persona_messages"] == len(persona) == 6
    assert analytics["messages"] == len(messages)
    by_name = {p["name"]: p for p in analytics["personas"]}
    for name, p in by_name.items():
        said = [m for m in persona if m["speaker_name"] == name]
        assert p["messages"] == len(said)
        assert p["words"] == sum(len(words(m["content"])) for m in said)
    assert abs(sum(p["talk_share"] for p in by_name.values()) - 1) < 0.01
    assert [r["round"] for r in analytics["rounds"]] == [1, 2]
    assert too_few["field"].endswith("discussion_ids") and twice["code"] == "VALIDATION_ERROR"
    assert stranger["code"] == "DISCUSSION_NOT_FOUND"
    assert [d["discussion_id"] for d in comparison["discussions"]] == [discussion_id, second]
    assert all(sum(d["closing_stances"].values()) == 3 for d in comparison["discussions"])
    assert "overall" in comparison["score_deltas"]
