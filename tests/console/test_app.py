"""The console's web app without ROS or a browser: a fake backend behind the real routes.

What the browser tests (test_browser.py) cannot check quickly: the token on every request and
the websocket, the origin check, size limits, validation answers, the choice numbers, the
stop-when-the-last-console-leaves rule, and the knowledge panel's undo on a fake store.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from robot_agent.console.app import ConsoleOptions, create_app, needs_token  # noqa: E402
from robot_agent.console.episodes import EpisodeError, EpisodesPanel  # noqa: E402
from robot_agent.console.hub import Hub  # noqa: E402
from robot_agent.console.knowledge import KnowledgeError, KnowledgePanel  # noqa: E402
from robot_agent.errors import KnowledgeBaseError  # noqa: E402


class FakeBackend:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def run_task(self, text: str) -> dict[str, Any]:
        if not text.strip():
            raise ValueError("goal.task: empty")
        self.calls.append(("task", text))
        return {"accepted": True, "task_id": "t-1", "task": text}

    def cancel(self) -> dict[str, Any]:
        self.calls.append(("cancel", None))
        return {"ok": True, "message": "goal canceled"}

    def correct(self, text: str, source: str = "typed") -> dict[str, Any]:
        if len(text) > 500:
            raise ValueError("correction.text: longer than 500 characters")
        self.calls.append(("correct", text))
        return {"sent": text, "source": source}

    def stop(self) -> dict[str, Any]:
        self.calls.append(("stop", None))
        return {"ok": True, "message": "stopped", "service_ms": 0.1}

    def speech(self, wav: bytes) -> dict[str, Any]:
        self.calls.append(("speech", len(wav)))
        return {"heard": [], "seconds": 0.0}


class FakeItem:
    def __init__(self, d: dict[str, Any]) -> None:
        self.d = dict(d)
        self.id = d["id"]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.d)


class FakeKB:
    def __init__(self) -> None:
        base = {"kind": "plan", "scope": {}, "parameters": {}, "provenance": {"utterances": ["open it first"]}}
        self.items = {"k1": {**base, "id": "k1", "rule": "open the drawer first", "use_count": 3, "success_count": 2}}

    def list(self, kind: str | None = None) -> list[FakeItem]:
        return [FakeItem(d) for d in self.items.values()]

    def search(self, text: str, k: int = 10, kind: str | None = None) -> list[tuple[FakeItem, float]]:
        return [(FakeItem(d), 0.5) for d in self.items.values()][:k]

    def get(self, item_id: str) -> FakeItem:
        if item_id not in self.items:
            raise KnowledgeBaseError(f"no knowledge item {item_id!r}")
        return FakeItem(self.items[item_id])

    def update(self, item_id: str, **fields: Any) -> FakeItem:
        self.items[item_id] = {**self.get(item_id).to_dict(), **fields}
        return FakeItem(self.items[item_id])

    def delete(self, item_id: str) -> None:
        self.get(item_id)
        del self.items[item_id]

    def restore(self, item_id: str) -> FakeItem:
        self.items[item_id] = {**self.get(item_id).to_dict(), "status": "active"}
        return FakeItem(self.items[item_id])

    def add(self, d: dict[str, Any], merge: bool = True) -> FakeItem:
        assert merge is False
        self.items[d["id"]] = dict(d)
        return FakeItem(d)


def _app(options: ConsoleOptions | None = None, kb: FakeKB | None = None) -> tuple[Any, FakeBackend, Hub]:
    backend, hub = FakeBackend(), Hub()
    panel = KnowledgePanel(get_kb=lambda: kb) if kb is not None else None
    return create_app(backend, hub, options, knowledge=panel), backend, hub


ANY = "0.0.0.0"  # noqa: S104 - the address a console must refuse to serve on without a token
TOKEN = "s3cret"  # noqa: S105 - a test token


def test_loopback_needs_no_token_and_any_other_host_does() -> None:
    assert not needs_token("127.0.0.1") and not needs_token("localhost")
    assert needs_token(ANY) and needs_token("192.168.1.5")
    with pytest.raises(ValueError, match="needs a token"):
        _app(ConsoleOptions(host=ANY))


def test_the_token_is_required_on_every_request_and_the_websocket() -> None:
    app, backend, _ = _app(ConsoleOptions(host=ANY, token=TOKEN))
    c = TestClient(app)
    assert c.get("/").status_code == 401
    assert c.get("/static/console.js").status_code == 401
    assert c.post("/api/stop").status_code == 401 and backend.calls == []
    assert c.post("/api/stop", headers={"X-Console-Token": "wrong"}).status_code == 401
    assert c.post("/api/stop", headers={"X-Console-Token": "s3cret"}).json()["ok"] is True
    with pytest.raises(Exception):  # noqa: B017 - the server closes the websocket before accepting
        with c.websocket_connect("/ws") as ws:
            ws.receive_text()
    # Opened with ?token=, the page gets a cookie that carries the token on its own requests.
    page = c.get("/?token=s3cret")
    assert page.status_code == 200 and 'id="stop-button"' in page.text
    assert c.get("/static/console.js").status_code == 200
    with c.websocket_connect("/ws?token=s3cret") as ws:
        assert ws.receive_json()["type"] == "snapshot"


def test_a_request_from_another_origin_is_refused() -> None:
    app, backend, _ = _app()
    c = TestClient(app)
    assert c.post("/api/stop", headers={"Origin": "http://evil.example"}).status_code == 403
    assert backend.calls == []
    assert c.post("/api/stop", headers={"Origin": "http://testserver"}).status_code == 200


def test_inputs_are_validated_and_choices_are_sent_as_their_number() -> None:
    app, backend, _ = _app()
    c = TestClient(app)
    assert c.post("/api/task", json={"text": "put the red block in the bowl"}).json()["accepted"] is True
    assert c.post("/api/task", json={"text": "  "}).status_code == 400
    assert c.post("/api/task", json={"task": 3}).status_code == 400
    assert c.post("/api/task", content=b"not json").status_code == 400
    assert c.post("/api/correction", json={"text": "x" * 600}).status_code == 400
    assert c.post("/api/correction", json={"text": "a bit to the left"}).status_code == 200
    assert c.post("/api/answer", json={"choice": 2}).status_code == 200
    assert c.post("/api/answer", json={"choice": "2; rm"}).status_code == 400
    assert c.post("/api/answer", json={"choice": True}).status_code == 400
    assert c.post("/api/correction", content=b"{" + b" " * 70000 + b"}").status_code == 400
    assert ("correct", "2") in backend.calls and ("correct", "a bit to the left") in backend.calls


def test_the_websocket_sends_a_snapshot_then_events_and_camera_frames() -> None:
    app, _, hub = _app()
    hub.publish("status", {"status": {"state": "idle", "task_id": None}})
    with TestClient(app).websocket_connect("/ws") as ws:
        snap = ws.receive_json()
        assert snap["type"] == "snapshot" and snap["status"]["status"]["state"] == "idle"
        hub.publish("transcript", {"text": "slower", "summary": "speed x0.5"})
        assert ws.receive_json()["summary"] == "speed x0.5"
        hub.set_frame(b"\xff\xd8jpeg")
        assert ws.receive_bytes() == b"\xff\xd8jpeg"


def test_the_arm_stops_when_the_last_console_closes_mid_task() -> None:
    app, backend, hub = _app(ConsoleOptions(disconnect_grace_s=0.1))
    hub.publish("status", {"status": {"state": "executing"}})
    with TestClient(app) as c:
        with c.websocket_connect("/ws") as ws:
            ws.receive_json()
        deadline = time.monotonic() + 5
        while ("stop", None) not in backend.calls and time.monotonic() < deadline:
            time.sleep(0.05)
    assert ("stop", None) in backend.calls
    # Not when it is configured off, nor when no task runs.
    app, backend, hub = _app(ConsoleOptions(disconnect_grace_s=0.1, stop_on_disconnect=False))
    hub.publish("status", {"status": {"state": "executing"}})
    with TestClient(app) as c:
        with c.websocket_connect("/ws") as ws:
            ws.receive_json()
        time.sleep(0.4)
    assert backend.calls == []


def test_knowledge_panel_edits_deletes_and_undoes() -> None:
    kb = FakeKB()
    app, _, _ = _app(kb=kb)
    c = TestClient(app)
    found = c.get("/api/kb/search?q=drawer").json()
    assert found[0]["id"] == "k1" and found[0]["use_count"] == 3 and found[0]["provenance"]["utterances"]
    assert c.post("/api/kb/item/k1", json={"rule": "open the drawer before placing"}).status_code == 200
    assert kb.items["k1"]["rule"] == "open the drawer before placing"
    assert c.post("/api/kb/item/k1", content=b'{"parameters": {"speed": 1e999}}').status_code == 400
    assert c.post("/api/kb/item/k1", json={"parameters": {"speed": [1, 2, 3, 4]}}).status_code == 400
    assert c.delete("/api/kb/item/k1").json()["deleted"] == "k1" and "k1" not in kb.items
    assert c.get("/api/kb/item/k1").status_code == 404
    assert c.post("/api/kb/undo").json()["undid"] == "delete" and kb.items["k1"]["use_count"] == 3
    assert c.post("/api/kb/undo").json()["undid"] == "edit" and kb.items["k1"]["rule"] == "open the drawer first"
    assert c.post("/api/kb/undo").status_code == 409
    kb.items["k1"]["status"] = "retired"  # retired after corrected uses: restore makes it active again
    assert c.post("/api/kb/item/k1/restore").json()["status"] == "active" and kb.items["k1"]["use_count"] == 3
    assert c.post("/api/kb/item/nope/restore").status_code == 404


def test_knowledge_panel_without_a_store_says_why() -> None:
    with pytest.raises(KnowledgeError, match="no knowledge base yet"):
        KnowledgePanel(get_kb=lambda: None).search("x")


def test_episodes_are_named_never_addressed_by_path(tmp_path) -> None:
    panel = EpisodesPanel(tmp_path)
    assert panel.list() == []
    for bad in ("../etc", "/etc/passwd", "x"):
        with pytest.raises(EpisodeError):
            panel.show(bad)
    assert EpisodesPanel(None).list() == []
