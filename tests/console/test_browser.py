"""The operator console in a real browser (issue 16): headless chromium on ``up sim --console``.

One agent and one page for the whole module (the models load once), in the order an operator
works: the page comes alive (camera at 5+ frames/s, state), a task is typed and its plan shown
while the camera image changes, a correction is typed and shown with how it was understood, the
robot's question is answered with a choice button; in a second task a spoken correction goes
through push-to-talk (chromium's fake microphone plays an espeak-ng recording) and STOP is
pressed on the space bar: the arm holds. Then a knowledge item is edited, deleted and restored,
and the recorded episodes are stepped through and one is replayed in the sim.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import SEED_RULE

IDS = ("task-input", "correction-input", "stop-button", "camera", "plan", "transcript", "knowledge", "episodes")
TERMINAL = ("done", "failed", "stopped")


def _state(page: Any) -> str:
    return str(page.get_attribute("#state", "data-state"))


def _wait_state(page: Any, states: tuple[str, ...], timeout: float) -> str:
    page.wait_for_function(
        f"{json.dumps(list(states))}.includes(document.querySelector('#state').dataset.state)", timeout=timeout * 1000
    )
    return _state(page)


def _metrics(page: Any) -> dict[str, Any]:
    return page.evaluate("JSON.parse(JSON.stringify(window.consoleMetrics))")


def _camera_png(page: Any) -> bytes:
    return page.locator("#camera").screenshot()


def test_the_page_is_live(page: Any, up_sim: Any, shots: Any) -> None:
    for element_id in IDS:
        assert page.locator(f"#{element_id}").count() == 1, element_id
    assert page.locator("#stop-button").is_visible()
    _wait_state(page, ("idle",), 30)
    page.wait_for_function("window.consoleMetrics.frames > 0", timeout=20000)
    n0, t0 = _metrics(page)["frames"], time.monotonic()
    time.sleep(3.0)
    fps = (_metrics(page)["frames"] - n0) / (time.monotonic() - t0)
    assert fps >= 5.0, f"camera at {fps:.1f} frames/s on the page"
    # no asset from elsewhere: every script and style the page loads is ours
    urls = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert all(u.startswith(up_sim.url) or u.startswith("ws://127.0.0.1") for u in urls), urls


def test_task_plan_correction_and_a_question_answered(page: Any, shots: Any) -> None:
    before = _camera_png(page)
    page.fill("#task-input", "put the white mug on the tray")
    page.press("#task-input", "Enter")
    page.wait_for_selector("#plan li", timeout=90000)
    assert "pick(white_mug)" in page.inner_text("#plan")
    _wait_state(page, ("executing",), 90)
    page.wait_for_selector("#plan li.current", timeout=10000)
    page.fill("#correction-input", "take it by the ear")
    page.press("#correction-input", "Enter")
    # understood: not sure, so the robot asks, offering its readings as buttons
    page.wait_for_selector("button.choice", timeout=30000)
    entry = page.locator("#transcript .entry", has_text="take it by the ear")
    assert "understood as:" in entry.inner_text() and "asked" in entry.inner_text()
    labels = page.locator("button.choice").all_inner_texts()
    assert len(labels) >= 2, labels
    page.screenshot(path=str(shots / "console-question.png"))
    # the handle when it is offered (it was, with the understanding of this commit), else the first reading
    pick = next((i for i, label in enumerate(labels, 1) if "handle" in label), 1)
    page.click(f"button.choice[data-choice='{pick}']")
    answered = page.locator("#transcript .entry", has_text=f"“{pick}”")
    answered.wait_for(timeout=30000)
    text = answered.inner_text()
    assert "understood as:" in text and "dropped" not in text and "unclear" not in text, text
    if _wait_state(page, TERMINAL, 180) == "done":  # what the task taught is listed with it
        page.locator("#task-knowledge li[data-event=distilled]").first.wait_for(timeout=30000)
    assert _camera_png(page) != before, "the camera image did not change while the arm moved"
    page.screenshot(path=str(shots / "console-task-done.png"))


def test_push_to_talk_and_stop_on_the_space_bar_hold_the_arm(
    page: Any, probe: Any, speech_wav: Any, shots: Any
) -> None:
    page.fill("#task-input", "put the red block in the bowl")
    page.press("#task-input", "Enter")
    _wait_state(page, ("executing",), 90)
    if speech_wav is not None:  # hold the talk button while the fake microphone plays the recording
        button = page.locator("#talk-button")
        button.hover()
        page.mouse.down()
        page.wait_for_selector("#talk-button.recording", timeout=5000)
        time.sleep(3.2)
        page.mouse.up()
        page.wait_for_function("document.querySelector('#talk-status').textContent.startsWith('heard')", timeout=30000)
        page.locator("#transcript .entry", has_text="spoken").first.wait_for(timeout=30000)
    page.fill("#correction-input", "slower")
    page.press("#correction-input", "Enter")
    page.wait_for_function("window.consoleMetrics.corrections.some(c => c.text === 'slower')", timeout=30000)
    if _state(page) not in ("executing", "waiting", "planning"):
        pytest.fail(f"the task ended before STOP could be tested: {page.inner_text('#transcript')[-500:]}")
    page.locator("#transcript").click()  # focus out of the text boxes: the space bar is STOP
    pressed = time.monotonic()
    page.keyboard.press("Space")
    page.wait_for_function("window.consoleMetrics.stops.length > 0", timeout=10000)
    _wait_state(page, ("stopped",), 10)
    stop = _metrics(page)["stops"][-1]
    assert stop["ok"], stop
    assert stop["ms"] < 1000, stop  # the bound of 100 ms is measured by scripts/bench_console.py
    # Joint states from half a second after the key on: wait until five have come (the time to
    # "stopped" varies with the load; a fixed sleep after it left too short a window once in 6 runs)
    held = probe.wait_for(pressed + 0.5, count=5, timeout=10.0)
    assert len(held) >= 5, "no joint states after the stop"
    drift = max(abs(a - b) for p in held for a, b in zip(p, held[0], strict=True))
    assert drift < 2e-3, f"the arm moved {drift:.4f} rad after STOP"
    assert "stopped" in page.inner_text("#stop-result")
    page.screenshot(path=str(shots / "console-stopped.png"))
    m = _metrics(page)
    print(f"\nbrowser STOP click-to-answer ms: {[round(x['ms'], 1) for x in m['stops']]}")
    print(f"browser corrections Enter-to-understood ms: {[(c['text'], round(c['ms'], 1)) for c in m['corrections']]}")


def test_knowledge_is_edited_deleted_and_restored(page: Any, shots: Any) -> None:
    page.click(".tab[data-tab=knowledge]")
    page.fill("#kb-query", "shelf clear")
    page.press("#kb-query", "Enter")
    item = page.locator("#kb-list li", has_text=SEED_RULE)
    item.wait_for(timeout=20000)
    assert "used" in item.inner_text()  # its use counts
    item.click()
    page.wait_for_selector("#kb-rule", timeout=10000)
    assert page.locator("#kb-provenance").count() == 1
    item_id = item.get_attribute("data-id")
    page.fill("#kb-rule", "keep the shelf clear when tidying up")
    page.click("#kb-save")
    page.locator("#kb-list li", has_text="keep the shelf clear when tidying up").wait_for(timeout=20000)
    page.screenshot(path=str(shots / "console-knowledge.png"))
    page.click("#kb-delete")
    page.wait_for_function(
        f"document.querySelector('#kb-message').textContent.startsWith('deleted {item_id}')", timeout=20000
    )
    assert page.locator(f"#kb-list li[data-id='{item_id}']").count() == 0
    page.click("#kb-undo")  # restores the deleted item (as edited)
    page.wait_for_function("document.querySelector('#kb-message').textContent.startsWith('restored')", timeout=20000)
    restored = page.locator(f"#kb-list li[data-id='{item_id}']")
    restored.wait_for(timeout=10000)
    assert "keep the shelf clear when tidying up" in restored.inner_text()
    page.click("#kb-undo")  # and then the edit
    page.locator("#kb-list li", has_text=SEED_RULE).wait_for(timeout=20000)


def test_episodes_are_stepped_through_and_replayed(page: Any, shots: Any) -> None:
    page.click(".tab[data-tab=episodes]")
    page.wait_for_selector("#ep-list li", timeout=20000)
    assert page.locator("#ep-list li").count() >= 2
    page.locator("#ep-list li", has_text="white mug").first.click()
    page.wait_for_selector("#ep-step", timeout=20000)
    first = page.inner_text("#ep-event")
    page.click("text=next ▶")
    assert page.inner_text("#ep-event") != first or page.get_attribute("#ep-step", "max") == "0"
    page.locator("#ep-step").fill(page.get_attribute("#ep-step", "max") or "0")
    page.wait_for_function(
        "document.querySelector('#ep-frame').complete && document.querySelector('#ep-frame').naturalWidth > 0",
        timeout=20000,
    )
    page.screenshot(path=str(shots / "console-episodes.png"))
    page.click("#ep-replay")
    page.wait_for_function(
        "document.querySelector('#ep-replay-output').textContent.startsWith('replay ')", timeout=120000
    )
    assert "matched the recording" in page.inner_text("#ep-replay-output") or "replay" in page.inner_text(
        "#ep-replay-output"
    )


def test_closing_the_last_page_mid_task_stops_the_arm(browser: Any, page: Any, up_sim: Any) -> None:
    page.context.close()  # the long-lived page leaves first
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    last = ctx.new_page()
    last.goto(up_sim.url)
    last.fill("#task-input", "put the blue block on the plate")
    last.press("#task-input", "Enter")
    last.wait_for_function(
        "consoleView.ourTask && consoleView.status && consoleView.status.task_id === consoleView.ourTask"
        " && consoleView.status.state === 'executing'",
        timeout=90000,
    )
    ctx.close()  # the tab is closed while the arm moves
    deadline = time.monotonic() + 15
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = up_sim.state()
        if state["status"]["status"]["state"] == "stopped":
            break
        time.sleep(0.2)
    assert state["status"]["status"]["state"] == "stopped", state["status"]
    assert any("last console closed" in n["text"] for n in state["notice"]), state["notice"]
