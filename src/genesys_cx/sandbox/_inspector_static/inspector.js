// The sandbox inspector page: plain JavaScript, no framework, nothing loaded from outside.
// Events arrive by server-sent events (/_sandbox/inspector/stream, which replays the ring buffer
// first); actions are calls of the control API (/_sandbox/faults, /_sandbox/channels/.../agent-replies).
"use strict";

const MAX_ROWS = 2000;
const byId = (id) => document.getElementById(id);
const events = new Map();          // id -> summary, in arrival order
const deliveries = new Map();      // message id -> {channel, state, webhook, attempts, retryAt}
let floor = 0;                     // "Clear view": events up to this id are hidden

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function time(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function badge(text, tone) { return el("span", `badge ${tone}`, text); }
function statusTone(status) { return !status ? "bad" : status < 300 ? "ok" : status < 500 ? "warn" : "bad"; }

function apiOf(e) {
  if (e.kind === "request") return e.api || "";
  if (e.kind === "signature" || e.kind === "delivery") return "messaging";
  if (e.kind === "cometd") return "statistics";
  return "";
}

function failed(e) {
  switch (e.kind) {
    case "request": return !e.status || e.status >= 400;
    case "signature": return !e.ok;
    case "delivery": return e.phase === "attempt" && e.outcome !== "delivered";
    case "cometd": return /refused|unknown/.test(e.action);
    default: return true;
  }
}

function statusOf(e) {
  return e.kind === "request" ? e.status : e.kind === "delivery" ? e.status : null;
}

function visible(e) {
  if (e.id <= floor) return false;
  const kind = byId("filter-kind").value, api = byId("filter-api").value, status = byId("filter-status").value;
  if (kind && e.kind !== kind) return false;
  if (api && apiOf(e) !== api) return false;
  if (status === "failed") return failed(e);
  if (status) { const s = statusOf(e); return !!s && String(s)[0] === status; }
  return true;
}

function row(e) {
  const li = el("li", `event ${e.kind}`);
  li.dataset.id = e.id; li.dataset.kind = e.kind;
  li.append(el("span", "time", time(e.at)), el("span", "kind", e.kind));
  if (e.kind === "request") {
    li.append(badge(e.status ?? (e.error || "no answer"), statusTone(e.status)));
    li.append(el("span", "what", `${e.method} ${e.path}`));
    if (e.operation) li.append(el("span", "note", e.operation));
    if (e.check === "passed") li.append(badge("✓ valid", "ok"));
    if (e.check === "failed") li.append(badge("✗ refused", "bad"), el("span", "note rule", e.rule));
    if (e.fault) li.append(badge(`fault: ${e.fault}`, "bad"));
    li.append(el("span", "note", `${e.ms} ms`));
    if (e.trace) li.append(el("span", "note", `trace ${e.trace}`));
    li.addEventListener("click", () => toggleDetail(li, e.id));
  } else if (e.kind === "signature") {
    li.append(e.ok ? badge("✓ signature valid", "ok") : badge("✗ signature failed", "bad"));
    li.append(el("span", "what", `channel ${e.channel}`));
    if (e.reason) li.append(el("span", "note reason", e.reason));
    if (e.trace) li.append(el("span", "note", `trace ${e.trace}`));
  } else if (e.kind === "delivery") {
    if (e.phase === "queued") {
      li.append(badge("agent reply", "info"), el("span", "what", `${e.message} on channel ${e.channel}`));
      li.append(el("span", "note", e.webhook ? `to ${e.webhook}` : e.state));
    } else {
      const tone = e.outcome === "delivered" ? "ok" : e.outcome === "retry" ? "warn" : "bad";
      li.append(badge(e.status ?? e.error ?? e.outcome, tone));
      li.append(el("span", "what", `${e.message} attempt ${e.attempt}`));
      li.append(el("span", "note", `${e.outcome}${e.error ? ": " + e.error : ""}, ${e.ms} ms`));
      if (e.retry_at) li.append(el("span", "note", `next attempt at ${time(e.retry_at)}`));
      if (e.final) li.append(badge(e.final, e.final === "delivered" ? "ok" : "bad"));
    }
  } else if (e.kind === "cometd") {
    li.append(badge(e.action, failed(e) ? "bad" : "info"));
    li.append(el("span", "what", e.channel || e.client || ""));
    if (e.client && e.channel) li.append(el("span", "note", `client ${e.client}`));
    if (e.data) li.append(el("span", "note", e.data));
    if (e.error) li.append(el("span", "note", e.error));
  } else if (e.kind === "fault") {
    li.append(badge(`fault: ${e.effect}`, "bad"), el("span", "what", `${e.method} ${e.path}`));
  }
  return li;
}

async function toggleDetail(li, id) {
  const open = li.querySelector(".detail");
  if (open) { open.remove(); return; }
  const answer = await fetch(`/_sandbox/inspector/events/${id}`, { headers: { Accept: "application/json" } });
  const node = byId("detail-template").content.firstElementChild.cloneNode(true);
  if (!answer.ok) {
    node.textContent = "This event has left the ring buffer.";
  } else {
    const d = (await answer.json()).detail;
    const headers = (h) => Object.entries(h).map(([k, v]) => `${k}: ${v}`).join("\n");
    node.querySelector(".req-headers").textContent = headers(d.request.headers);
    node.querySelector(".req-body").textContent = d.request.body || "(no body)";
    node.querySelector(".ans-headers").textContent = headers(d.answer.headers);
    node.querySelector(".ans-body").textContent = d.answer.body || "(no body)";
  }
  node.addEventListener("click", (ev) => ev.stopPropagation());
  li.append(node);
}

function render() {
  const list = byId("events");
  list.replaceChildren();
  const rows = [...events.values()].filter(visible).reverse().slice(0, MAX_ROWS).map(row);
  list.append(...rows);
  byId("empty").classList.toggle("hidden", rows.length > 0);
}

function add(e) {
  events.set(e.id, e);
  if (events.size > MAX_ROWS) events.delete(events.keys().next().value);
  if (e.kind === "delivery") track(e);
  if (e.kind === "fault") refreshFaults();
  if (e.kind === "cometd") refreshCometd();
  if (visible(e)) {
    const list = byId("events");
    list.prepend(row(e));
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
    byId("empty").classList.add("hidden");
  }
}

// -- deliveries ---------------------------------------------------------------------------------

function track(e) {
  const d = deliveries.get(e.message) || { channel: e.channel, state: "pending", attempts: [], retryAt: null };
  if (e.phase === "queued") { d.webhook = e.webhook; d.state = e.state; }
  else {
    d.attempts.push(e);
    d.retryAt = e.retry_at;
    d.state = e.final || "pending";
  }
  deliveries.set(e.message, d);
  renderDeliveries();
}

function renderDeliveries() {
  const list = byId("deliveries");
  list.replaceChildren();
  for (const [id, d] of [...deliveries.entries()].reverse().slice(0, 50)) {
    const li = el("li");
    li.dataset.message = id;
    const tone = d.state === "delivered" ? "ok" : d.state === "pending" ? "warn" : "bad";
    li.append(badge(d.state, tone), el("span", "what", ` ${id} `), el("span", "note", `channel ${d.channel}`));
    if (d.state === "pending" && d.retryAt) {
      const left = Math.max(0, (d.retryAt - Date.now()) / 1000);
      li.append(el("div", "note due", `next attempt in ${left.toFixed(1)} s`));
    }
    const attempts = el("ol", "attempts");
    for (const a of d.attempts) {
      attempts.append(el("li", "attempt", `#${a.attempt}: ${a.status ?? a.error ?? ""} ${a.outcome} (${a.ms} ms)`));
    }
    li.append(attempts);
    list.append(li);
  }
  byId("deliveries-empty").classList.toggle("hidden", deliveries.size > 0);
}

// -- control API: faults and agent replies --------------------------------------------------------

async function control(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const answer = await fetch(`/_sandbox${path}`, init);
  const text = await answer.text();
  const data = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new Error((data && data.error) || `HTTP ${answer.status}`);
  return data;
}

function say(id, text, bad) { const p = byId(id); p.textContent = text; p.classList.toggle("bad", !!bad); }

async function refreshFaults() {
  const list = byId("faults");
  let faults = [];
  try { faults = (await control("GET", "/faults")).faults; } catch (err) { say("fault-result", err.message, true); }
  list.replaceChildren();
  for (const f of faults) {
    const li = el("li", "fault");
    li.dataset.fault = f.id;
    const effect = f.drop ? "drop connection" : f.status ? `HTTP ${f.status}` : "no failure";
    const parts = [`#${f.id} ${f.method || "any method"} ${f.match}: ${effect}`];
    if (f.latency) parts.push(`+${f.latency} s`);
    if (f.rate !== 1) parts.push(`rate ${f.rate}`);
    parts.push(f.times === null ? "always" : f.times === 0 ? "spent" : `${f.times} more`);
    const remove = el("button", "remove", "Remove");
    remove.type = "button";
    remove.addEventListener("click", async () => {
      try { await control("DELETE", `/faults/${f.id}`); say("fault-result", `fault #${f.id} removed`); }
      catch (err) { say("fault-result", err.message, true); }
      refreshFaults();
    });
    li.append(el("span", "what", parts.join(", ") + " "), remove);
    list.append(li);
  }
  byId("faults-empty").classList.toggle("hidden", faults.length > 0);
}

byId("fault-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const rule = { match: byId("fault-match").value.trim() || "*" };
  const method = byId("fault-method").value.trim();
  if (method) rule.method = method;
  const number = (id) => byId(id).value.trim() === "" ? null : Number(byId(id).value);
  if (number("fault-status") !== null) rule.status = number("fault-status");
  if (number("fault-times") !== null) rule.times = number("fault-times");
  if (number("fault-latency") !== null) rule.latency = number("fault-latency");
  if (byId("fault-drop").checked) rule.drop = true;
  try { const f = await control("POST", "/faults", rule); say("fault-result", `fault #${f.id} added`); }
  catch (err) { say("fault-result", err.message, true); }
  refreshFaults();
});

byId("reply-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const channel = byId("reply-channel").value;
  const body = { text: byId("reply-text").value };
  if (byId("reply-to").value.trim()) body.to = byId("reply-to").value.trim();
  try {
    const message = await control("POST", `/channels/${encodeURIComponent(channel)}/agent-replies`, body);
    say("reply-result", `agent reply ${message.id} queued on channel ${channel}`);
  } catch (err) { say("reply-result", err.message, true); }
});

// -- CometD -------------------------------------------------------------------------------------

let cometdTimer = null;
function refreshCometd() {
  if (cometdTimer) return;
  cometdTimer = setTimeout(async () => {
    cometdTimer = null;
    let view;
    try { view = await (await fetch("/_sandbox/inspector/cometd")).json(); } catch { return; }
    byId("service-state").textContent = view.service || "not served";
    const sessions = byId("sessions");
    sessions.replaceChildren();
    for (const s of view.sessions.slice(0, 30)) {
      const li = el("li", "session", `${s.client}: ${s.state}; ${s.connects} connect(s)`);
      li.append(el("div", "note", s.channels.length ? `subscribed to ${s.channels.join(", ")}` : "no subscription"));
      sessions.append(li);
    }
    if (!view.sessions.length) sessions.append(el("li", "empty", "No CometD session yet."));
    const channels = byId("channels");
    channels.replaceChildren();
    for (const [name, recent] of Object.entries(view.channels)) {
      const li = el("li", "channel", name);
      const items = el("ol", "attempts");
      for (const m of recent.slice().reverse()) items.append(el("li", null, `${time(m.at)} ${m.data}`));
      li.append(items);
      channels.append(li);
    }
    if (!Object.keys(view.channels).length) channels.append(el("li", "empty", "No message delivered yet."));
  }, 300);
}

// -- start --------------------------------------------------------------------------------------

async function start() {
  try {
    const overview = await (await fetch("/_sandbox/", { headers: { Accept: "application/json" } })).json();
    for (const api of overview.apis || []) byId("filter-api").append(new Option(api, api));
    for (const channel of overview.channels || []) byId("reply-channel").append(new Option(channel, channel));
  } catch { /* the filters keep "all" */ }
  for (const id of ["filter-kind", "filter-api", "filter-status"]) byId(id).addEventListener("change", render);
  byId("clear-view").addEventListener("click", () => {
    floor = Math.max(0, ...events.keys()); render();
  });
  refreshFaults();
  refreshCometd();
  setInterval(refreshCometd, 5000);
  setInterval(() => { if ([...deliveries.values()].some((d) => d.state === "pending")) renderDeliveries(); }, 500);
  const stream = new EventSource("/_sandbox/inspector/stream");
  stream.onopen = () => { byId("live").textContent = "live"; byId("live").className = "dot on"; };
  stream.onerror = () => { byId("live").textContent = "reconnecting…"; byId("live").className = "dot off"; };
  stream.onmessage = (message) => {
    add(JSON.parse(message.data));
    byId("kept").textContent = `${events.size} event(s) shown`;
  };
}

start();
