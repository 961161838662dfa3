// robot_agent operator console: live state over one websocket, actions as plain HTTP requests.
// STOP never depends on the websocket: it is its own POST, retried until the server answers.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN = new URLSearchParams(location.search).get("token") || "";
const HEADERS = TOKEN ? { "X-Console-Token": TOKEN } : {};
const ACTIVE = new Set(["planning", "executing", "waiting"]);

// Figures the tests and scripts/bench_console.py read.
window.consoleMetrics = { stops: [], corrections: [], frames: 0, snapshots: 0 };

const view = { status: null, plan: null, transcript: [], knowledge: [], taskId: null, ourTask: null };
const pendingCorrections = [];
window.consoleView = view;  // read by the tests and the benchmark

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

async function api(method, path, body, timeoutMs) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs || 15000);
  const init = { method, headers: { ...HEADERS }, signal: ctl.signal, cache: "no-store" };
  if (body instanceof Blob) { init.body = body; init.headers["Content-Type"] = body.type || "application/octet-stream"; }
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  try {
    const r = await fetch(path, init);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || `${r.status} ${r.statusText}`);
    return data;
  } finally { clearTimeout(timer); }
}

// ---- STOP ----------------------------------------------------------------------------------------
let lastStop = -1e9;
async function stopNow(startedAt) {
  const t0 = startedAt || performance.now();
  if (t0 - lastStop < 250) return;  // the pointerdown and the click of one press
  lastStop = t0;
  const out = $("stop-result");
  out.textContent = "stopping…";
  for (let attempt = 1; attempt <= 20; attempt++) {
    try {
      const r = await api("POST", "/api/stop", undefined, 1500);
      const ms = performance.now() - t0;
      window.consoleMetrics.stops.push({ ms, service_ms: r.service_ms, ok: r.ok, attempt, at: performance.timeOrigin + t0 });
      out.textContent = `${r.ok ? "stopped" : "stop sent"}: ${r.message} (${ms.toFixed(0)} ms)`;
      return;
    } catch (e) {
      out.textContent = `stop not confirmed (${e.message}); retrying…`;
      await new Promise((res) => setTimeout(res, Math.min(100 * attempt, 500)));
    }
  }
  out.textContent = "STOP could not reach the console server: use the arm's emergency stop";
}
$("stop-button").addEventListener("pointerdown", (ev) => { ev.preventDefault(); stopNow(ev.timeStamp); });
$("stop-button").addEventListener("click", (ev) => stopNow(ev.timeStamp));
document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  if ((ev.code === "Space" || ev.key === " ") && !typing && !ev.repeat) { ev.preventDefault(); stopNow(ev.timeStamp); }
});

// ---- live state ------------------------------------------------------------------------------------
let ws = null, retry = 0, lastUrl = null;
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${proto}://${location.host}/ws${TOKEN ? "?token=" + encodeURIComponent(TOKEN) : ""}`);
  ws.binaryType = "blob";
  ws.onopen = () => { retry = 0; $("link").textContent = "live"; $("link").classList.add("online"); };
  ws.onclose = () => {
    $("link").textContent = "reconnecting…"; $("link").classList.remove("online");
    setTimeout(connect, Math.min(200 * 2 ** retry++, 3000));
  };
  ws.onmessage = (m) => {
    if (typeof m.data !== "string") { showFrame(m.data); return; }
    const ev = JSON.parse(m.data);
    if (ev.type === "snapshot") applySnapshot(ev); else applyEvent(ev);
  };
}

let frameTimes = [];
function showFrame(blob) {
  const url = URL.createObjectURL(blob);
  const img = $("camera");
  img.onload = () => { if (lastUrl) URL.revokeObjectURL(lastUrl); lastUrl = url; };
  img.src = url;
  window.consoleMetrics.frames++;
  const now = performance.now();
  frameTimes.push(now);
  frameTimes = frameTimes.filter((t) => now - t < 2000);
  $("fps").textContent = `${(frameTimes.length / 2).toFixed(1)} frames/s`;
}

function applySnapshot(s) {
  window.consoleMetrics.snapshots++;
  view.transcript = s.transcript || [];
  view.knowledge = s.knowledge || [];
  if (s.status) view.status = s.status.status;
  if (s.plan) view.plan = s.plan.plan;
  (s.notice || []).forEach((n) => addNotice(n.text));
  render();
}

function applyEvent(ev) {
  if (ev.type === "status") { view.status = ev.status; renderStatus(); renderPlan(); renderTaskKnowledge(); }
  else if (ev.type === "plan") { view.plan = ev.plan; renderPlan(); }
  else if (ev.type === "transcript") { view.transcript.push(ev); matchCorrection(ev); renderTranscript(); }
  else if (ev.type === "knowledge") { view.knowledge.push(ev); renderTaskKnowledge(); }
  else if (ev.type === "result") { addNotice(`task ${ev.task_id}: ${ev.state}${ev.reason ? " (" + ev.reason + ")" : ""}`, !ev.success); }
  else if (ev.type === "notice") { addNotice(ev.text, true); }
}

function currentTaskId() { return (view.status && view.status.task_id) || null; }

function render() { renderStatus(); renderPlan(); renderTranscript(); renderTaskKnowledge(); }

function renderStatus() {
  const st = view.status;
  const state = st ? st.state : "unknown";
  const badge = $("state");
  badge.className = `state state-${state}`;
  badge.textContent = st ? (st.ready ? state : `${state} (not ready)`) : "no agent";
  badge.dataset.state = state;
  const skill = st && st.skill ? `${st.skill.skill}(${Object.values(st.skill.args || {}).join(", ")})` : "";
  $("skill").textContent = skill;
  $("task-line").textContent = st && st.task ? `${st.task_id}: ${st.task}` : "";
  if (st && st.error) addNotice(st.error, true);
}

function renderPlan() {
  const ol = $("plan");
  ol.replaceChildren();
  const plan = view.plan, st = view.status;
  if (!plan || !st || plan.task_id !== st.task_id) return;
  const step = st.step === null || st.step === undefined ? -1 : st.step;
  const finished = st.success !== null && st.success !== undefined;
  plan.steps.forEach((s, i) => {
    const cls = finished ? "done" : i < step ? "done" : i === step && ACTIVE.has(st.state) ? "current" : "";
    const params = Object.entries(s.params || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
    ol.append(el("li", { class: cls, "data-step": i }, s.text + (params ? "  " + params : "")));
  });
  $("plan-why").textContent = plan.replanned ? `replanned: ${plan.why}` : (plan.constraints || []).join("; ");
}

function renderTranscript() {
  const box = $("transcript");
  const tid = currentTaskId();
  box.replaceChildren();
  const shown = view.transcript.filter((e) => !tid || e.task_id === tid || !e.task_id);
  // Choice buttons on the newest question, while nothing was said after it.
  const asking = shown.length && (shown[shown.length - 1].choices || []).length ? shown.length - 1 : -1;
  shown.forEach((e, idx) => {
    const kind = e.kind_of_event;
    const entry = el("div", { class: `entry ${kind}${e.outcome === "asked" ? " question" : ""}`, "data-kind": kind });
    if (kind === "question") {
      entry.append(el("div", { class: "said" }, `robot asks: ${e.question}`));
    } else {
      entry.append(el("div", { class: "said" }, `${e.source || "operator"}: “${e.text}”`));
      entry.append(el("div", { class: "understood" }, `understood as: ${e.summary || e.kind}`));
      const conf = e.confidence ? ` · confidence ${e.confidence}` : "";
      entry.append(el("div", { class: "outcome" }, `${e.outcome}${conf}${e.refusal ? " · refused: " + e.refusal : ""}`));
    }
    if (idx === asking) {
      if (kind !== "question") entry.append(el("div", { class: "said" }, `robot asks: ${e.question}`));
      const choices = el("div", { class: "choices" });
      e.choices.forEach((c, i) => choices.append(el("button", {
        type: "button", class: "choice", "data-choice": i + 1,
        onclick: () => answer(i + 1, c),
      }, `${i + 1}. ${c}`)));
      entry.append(choices);
    }
    box.append(entry);
  });
  box.scrollTop = box.scrollHeight;
}

function renderTaskKnowledge() {
  const ul = $("task-knowledge");
  ul.replaceChildren();
  const tid = currentTaskId();
  view.knowledge.filter((k) => k.task_id && k.task_id === tid && (k.event === "used" || k.event === "distilled"))
    .forEach((k) => ul.append(el("li", { "data-event": k.event }, `${k.event}: ${k.rule}${k.score ? ` (${k.score})` : ""}`)));
}

function addNotice(text, bad) {
  const box = $("transcript");
  box.append(el("div", { class: "entry " + (bad ? "notice" : "") }, text));
  box.scrollTop = box.scrollHeight;
}

// ---- task, corrections, answers --------------------------------------------------------------------
$("task-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("task-input").value.trim();
  if (!text) return;
  try {
    const r = await api("POST", "/api/task", { text });
    if (r.accepted) { view.ourTask = r.task_id; $("task-input").value = ""; }
    else addNotice(`task refused: ${r.reason}`, true);
  } catch (e) { addNotice(`task not sent: ${e.message}`, true); }
});
$("cancel-button").addEventListener("click", async () => {
  try { const r = await api("POST", "/api/cancel"); addNotice(r.message, !r.ok); } catch (e) { addNotice(e.message, true); }
});

$("correction-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("correction-input").value.trim();
  if (!text) return;
  const t0 = performance.now();
  try {
    const r = await api("POST", "/api/correction", { text });
    pendingCorrections.push({ text: r.sent.toLowerCase(), t0, wall: Date.now() / 1000 - 0.05 });
    $("correction-input").value = "";
  } catch (e) { addNotice(`correction not sent: ${e.message}`, true); }
});

function matchCorrection(ev) {
  if (ev.kind_of_event === "question") return;
  const i = pendingCorrections.findIndex((p) => p.text === (ev.text || "").toLowerCase() && ev.stamp >= p.wall);
  if (i < 0) return;
  const p = pendingCorrections.splice(i, 1)[0];
  window.consoleMetrics.corrections.push({ text: p.text, ms: performance.now() - p.t0, outcome: ev.outcome });
}

async function answer(n, label) {
  const t0 = performance.now();
  try {
    await api("POST", "/api/answer", { choice: n });
    pendingCorrections.push({ text: String(n), t0, wall: Date.now() / 1000 - 0.05 });
    addNotice(`answered: ${n}. ${label}`);
  } catch (e) { addNotice(`answer not sent: ${e.message}`, true); }
}

// ---- push-to-talk ----------------------------------------------------------------------------------
let rec = null;
async function startTalk() {
  if (rec) return;
  const status = $("talk-status");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      // raw audio for the recognizer: automatic gain clips loud speech into false "stop"s
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule("/static/ptt-worklet.js");
    const src = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, "ptt-capture");
    const chunks = [];
    node.port.onmessage = (m) => chunks.push(m.data);
    src.connect(node);
    rec = { stream, ctx, node, chunks };
    $("talk-button").classList.add("recording");
    status.textContent = "listening… release to send";
  } catch (e) { status.textContent = `no microphone: ${e.message}`; rec = null; }
}

function wavBlob(chunks, rate) {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const buf = new ArrayBuffer(44 + 2 * n);
  const v = new DataView(buf);
  const str = (o, s) => [...s].forEach((ch, i) => v.setUint8(o + i, ch.charCodeAt(0)));
  str(0, "RIFF"); v.setUint32(4, 36 + 2 * n, true); str(8, "WAVE"); str(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  str(36, "data"); v.setUint32(40, 2 * n, true);
  let o = 44;
  for (const c of chunks) for (let i = 0; i < c.length; i++, o += 2) v.setInt16(o, Math.max(-1, Math.min(1, c[i])) * 32767, true);
  return new Blob([buf], { type: "audio/wav" });
}

async function endTalk() {
  if (!rec) return;
  const r = rec; rec = null;
  $("talk-button").classList.remove("recording");
  r.node.disconnect(); r.stream.getTracks().forEach((t) => t.stop());
  const rate = r.ctx.sampleRate;
  await r.ctx.close();
  await sendSpeech(wavBlob(r.chunks, rate));
}

async function sendSpeech(blob) {
  const status = $("talk-status");
  status.textContent = "recognizing…";
  try {
    const r = await api("POST", "/api/speech", blob, 30000);
    status.textContent = r.heard.length ? "heard: " + r.heard.map((h) => `“${h.text}”`).join(", ") : `nothing heard (${r.seconds} s)`;
  } catch (e) { status.textContent = `not recognized: ${e.message}`; }
}
window.consoleSendSpeech = sendSpeech;
$("talk-button").addEventListener("pointerdown", startTalk);
$("talk-button").addEventListener("pointerup", endTalk);
$("talk-button").addEventListener("pointerleave", endTalk);

// ---- knowledge panel -------------------------------------------------------------------------------
document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll(".tab").forEach((x) => x.classList.toggle("active", x === b));
  $("knowledge").classList.toggle("hidden", b.dataset.tab !== "knowledge");
  $("episodes").classList.toggle("hidden", b.dataset.tab !== "episodes");
  if (b.dataset.tab === "episodes") loadEpisodes();
}));

async function searchKb() {
  const q = encodeURIComponent($("kb-query").value.trim());
  const kind = encodeURIComponent($("kb-kind").value);
  try {
    const items = await api("GET", `/api/kb/search?q=${q}&kind=${kind}&k=50`);
    const ul = $("kb-list");
    ul.replaceChildren();
    items.forEach((it) => ul.append(el("li", { "data-id": it.id, onclick: () => showItem(it.id) },
      el("div", {}, it.rule),
      el("div", { class: "meta" }, `${it.kind} · ${it.id} · ${health(it)}${it.score !== undefined ? " · score " + it.score : ""}`))));
    $("kb-message").textContent = `${items.length} item(s)`;
  } catch (e) { $("kb-message").textContent = e.message; }
}
$("kb-form").addEventListener("submit", (ev) => { ev.preventDefault(); searchKb(); });

function health(it) {
  const corrected = it.corrected_count ? `, corrected ${it.corrected_count}` : "";
  const status = it.status && it.status !== "active" ? ` · ${it.status.toUpperCase()}` : "";
  return `used ${it.use_count} (ok ${it.success_count}${corrected})${status}`;
}

async function restoreItem(id) {
  try {
    await api("POST", `/api/kb/item/${encodeURIComponent(id)}/restore`);
    await searchKb(); await showItem(id);
    $("kb-message").textContent = `restored ${id}: active again`;
  } catch (e) { $("kb-message").textContent = e.message; }
}

async function showItem(id) {
  const box = $("kb-item");
  try {
    const it = await api("GET", `/api/kb/item/${encodeURIComponent(id)}`);
    const rule = el("textarea", { id: "kb-rule", "aria-label": "rule" });
    rule.value = it.rule;
    const params = el("textarea", { id: "kb-params", "aria-label": "parameters (JSON)" });
    params.value = JSON.stringify(it.parameters);
    box.replaceChildren(
      el("div", { class: "meta" }, `${it.kind} · ${it.id} · ${health(it)}`),
      el("label", {}, "rule"), rule,
      el("label", {}, "parameters (JSON)"), params,
      el("div", {},
        el("button", { id: "kb-save", type: "button", onclick: () => saveItem(it.id) }, "Save"),
        el("button", { id: "kb-delete", type: "button", onclick: () => deleteItem(it.id) }, "Delete"),
        it.status && it.status !== "active"
          ? el("button", { id: "kb-restore", type: "button", onclick: () => restoreItem(it.id) }, "Restore") : null),
      el("label", {}, "scope"), el("pre", {}, JSON.stringify(it.scope, null, 1)),
      el("label", {}, "provenance (where it came from)"), el("pre", { id: "kb-provenance" }, JSON.stringify(it.provenance, null, 1)));
  } catch (e) { box.textContent = e.message; }
}

async function saveItem(id) {
  let parameters;
  try { parameters = JSON.parse($("kb-params").value || "{}"); } catch (e) { $("kb-message").textContent = `parameters: ${e.message}`; return; }
  try {
    await api("POST", `/api/kb/item/${encodeURIComponent(id)}`, { rule: $("kb-rule").value, parameters });
    $("kb-message").textContent = `saved ${id}`;
    await searchKb(); await showItem(id);
  } catch (e) { $("kb-message").textContent = e.message; }
}

async function deleteItem(id) {
  try {
    await api("DELETE", `/api/kb/item/${encodeURIComponent(id)}`);
    $("kb-item").replaceChildren();
    await searchKb();
    $("kb-message").textContent = `deleted ${id} (Undo puts it back)`;
  } catch (e) { $("kb-message").textContent = e.message; }
}

$("kb-undo").addEventListener("click", async () => {
  try {
    const r = await api("POST", "/api/kb/undo");
    await searchKb();
    $("kb-message").textContent = `restored ${r.restored.id} (undid ${r.undid})`;
  } catch (e) { $("kb-message").textContent = e.message; }
});

// ---- episodes panel --------------------------------------------------------------------------------
async function loadEpisodes() {
  try {
    const r = await api("GET", "/api/episodes");
    const ul = $("ep-list");
    ul.replaceChildren();
    r.episodes.forEach((e) => ul.append(el("li", { "data-name": e.name, onclick: () => openEpisode(e.name) },
      el("div", {}, e.task || e.name),
      el("div", { class: "meta" }, e.error ? e.error : `${e.name} · ${e.success === null ? "unfinished" : e.success ? "done" : "not done"} · ${e.corrections} correction(s) · ${e.duration_s} s · ${e.frames} frame(s)`))));
    $("ep-message").textContent = `${r.episodes.length} episode(s)` + (r.replay.state !== "idle" ? ` · replay ${r.replay.state}` : "");
  } catch (e) { $("ep-message").textContent = e.message; }
}
$("ep-refresh").addEventListener("click", loadEpisodes);

async function openEpisode(name) {
  const box = $("ep-view");
  try {
    const ep = await api("GET", `/api/episodes/${encodeURIComponent(name)}`);
    const slider = el("input", { id: "ep-step", type: "range", min: 0, max: Math.max(0, ep.events.length - 1), value: 0 });
    const img = el("img", { id: "ep-frame", alt: "recorded frame" });
    const text = el("pre", { id: "ep-event" });
    const label = el("div", { class: "meta", id: "ep-pos" });
    const show = () => {
      const i = Number(slider.value), e = ep.events[i];
      if (!e) { text.textContent = "no events"; return; }
      label.textContent = `event ${i + 1} of ${ep.events.length} · t=${e.t} s · ${e.kind}`;
      text.textContent = JSON.stringify(e.data, null, 1);
      if (e.frame >= 0) img.src = `/api/episodes/${encodeURIComponent(name)}/frame/${e.frame}${TOKEN ? "?token=" + encodeURIComponent(TOKEN) : ""}`;
    };
    slider.addEventListener("input", show);
    const step = (d) => { slider.value = Math.min(Number(slider.max), Math.max(0, Number(slider.value) + d)); show(); };
    const out = el("pre", { id: "ep-replay-output" });
    box.replaceChildren(el("div", {}, el("b", {}, name)), img, label,
      el("div", {}, el("button", { type: "button", onclick: () => step(-1) }, "◀ prev"), slider,
        el("button", { type: "button", onclick: () => step(1) }, "next ▶"),
        el("button", { id: "ep-replay", type: "button", onclick: () => replay(name, out) }, "Replay in sim")),
      text, out);
    show();
  } catch (e) { box.textContent = e.message; }
}

async function replay(name, out) {
  try {
    let r = await api("POST", `/api/episodes/${encodeURIComponent(name)}/replay`);
    out.textContent = "replaying…";
    while (r.state === "running") {
      await new Promise((res) => setTimeout(res, 1000));
      r = await api("GET", "/api/episodes/replay");
    }
    out.textContent = `replay ${r.returncode === 0 ? "matched the recording" : "ended with code " + r.returncode}\n${r.output}`;
  } catch (e) { out.textContent = e.message; }
}

connect();
searchKb();
