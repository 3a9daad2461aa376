"use strict";
// Alarms in the dashboard: the alarms page (#/alarms) and the banner above every page.
// Loaded after app.js, whose helpers (api, el, section, inPlant, TOKEN, PAGES, show) it uses.

// Labels in the page's language: functions, since the catalogue arrives after this script runs.
const SEVERITY = {
  critical: { rank: 3, label: () => t("sev-critical") },
  warning: { rank: 2, label: () => t("sev-warning") },
  info: { rank: 1, label: () => t("sev-info") },
};
const RULES = {
  demand: () => t("rule-demand"),
  device_silent: () => t("rule-device-silent"),
  agent_offline: () => t("rule-agent-offline"),
  readings_lost: () => t("rule-readings-lost"),
  spool_backlog: () => t("rule-spool-backlog"),
  spool_evictions: () => t("rule-spool-evictions"),
  power_factor: () => t("rule-power-factor"),
  store_backlog: () => t("rule-store-backlog"),
  specific_power: () => t("rule-specific-power"),
};
const STATES = {
  raised: () => t("state-raised"),
  acknowledged: () => t("state-acknowledged"),
  cleared: () => t("state-cleared"),
};
// Evidence keys: label, and the unit when the key itself implies one.
const EVIDENCE = {
  value: [() => t("ev-value")],
  threshold: [() => t("ev-threshold")],
  projected_kw: [() => t("ev-projected-kw"), "kW"],
  current_kw: [() => t("ev-current-kw"), "kW"],
  contract_kw: [() => t("ev-contract-kw"), "kW"],
  warn_kw: [() => t("ev-warn-kw"), "kW"],
  over_kw: [() => t("ev-over-kw"), "kW"],
  shed_kw: [() => t("ev-shed-kw"), "kW"],
  minutes_left: [() => t("ev-minutes-left"), "min"],
  window_start: [() => t("ev-window-start")],
  window_end: [() => t("ev-window-end")],
  window: [() => t("ev-window")],
  last_seen: [() => t("ev-last-seen")],
  since: [() => t("ev-since")],
  kw: [() => t("ev-kw"), "kW"],
  air_flow: [() => t("ev-air-flow"), "m³/min"],
  reason: [() => t("ev-reason")],
};
const WHO_KEY = "kilowatch.alarms.who";
const sevOf = (a) => (SEVERITY[a.severity] ? { rank: SEVERITY[a.severity].rank, label: SEVERITY[a.severity].label() } : { rank: 0, label: a.severity });
const ruleOf = (a) => (RULES[a.rule] ? RULES[a.rule]() : a.rule);
const stateOf = (s) => (STATES[s] ? STATES[s]() : s);
const alarmTime = (t) => inPlant({ dateStyle: "short", timeStyle: "medium" }).format(new Date(t));
const bySeverity = (a, b) => sevOf(b).rank - sevOf(a).rank || Date.parse(b.raised_at) - Date.parse(a.raised_at);

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t("dur-s", { s });
  const m = Math.floor(s / 60);
  if (m < 60) return t("dur-min-s", { m, s: s % 60 });
  const h = Math.floor(m / 60);
  return h < 48 ? t("dur-h-min", { h, m: m % 60 }) : t("dur-d-h", { d: Math.floor(h / 24), h: h % 24 });
}

// The engine's link is the gateway path of a dashboard page (/dashboard/#/plant): followed
// as a hash, it keeps this page's ?token=.
function pageLink(link) {
  const hash = (link || "").split("#")[1];
  if (!hash) return null;
  const page = hash.replace(/^\/?/, "").split("?")[0];
  const title = PAGES[page] ? titleOf(PAGES[page]) : page;
  return el("a", { href: "#/" + hash.replace(/^\/?/, ""), class: "alarm-link" }, `${title} →`);
}

// The demand evidence names its value and threshold (projected_kw, warn_kw): shown once.
const SAME_AS = { value: "projected_kw", threshold: "warn_kw" };
function evidenceTable(ev) {
  const tbl = el("table", { class: "evidence" });
  // The known keys in the order of EVIDENCE (value and threshold first), then any other.
  const order = Object.keys(EVIDENCE);
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  const keys = Object.keys(ev || {}).sort((a, b) => rank(a) - rank(b));
  for (const k of keys) {
    const v = ev[k];
    if (k === "unit" || v === null || v === undefined || (SAME_AS[k] && ev[SAME_AS[k]] !== undefined)) continue;
    const [label, unit] = EVIDENCE[k] ? [EVIDENCE[k][0](), EVIDENCE[k][1]] : [k.replace(/_/g, " ")];
    const u = k === "value" || k === "threshold" ? ev.unit || "" : unit || "";
    const shown = typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) ? alarmTime(v) : typeof v === "number" ? fmt(v) : String(v);
    tbl.append(el("tr", { "data-key": k }, el("th", {}, label), el("td", {}, shown + (u && typeof v === "number" ? " " + u : ""))));
  }
  return tbl;
}

async function acknowledge(id, by, note) {
  const p = new URLSearchParams(TOKEN ? { token: TOKEN } : {});
  const url = `../api/v1/alarms/${encodeURIComponent(id)}/ack` + (p.toString() ? "?" + p : "");
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(note ? { by, note } : { by }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || "HTTP " + res.status);
  return body;
}

function ackForm(a) {
  const who = el("input", { name: "by", placeholder: t("alarm-your-name"), required: "", maxlength: "200", "aria-label": t("alarm-who") });
  who.value = localStorage.getItem(WHO_KEY) || "";
  const note = el("input", { name: "note", placeholder: t("alarm-note-optional"), maxlength: "2000", "aria-label": t("alarm-note") });
  const button = el("button", { type: "submit" }, t("alarm-acknowledge"));
  const problem = el("span", { class: "ack-error" });
  const form = el("form", { class: "ack" }, who, note, button, problem);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const by = who.value.trim();
    if (!by) { who.focus(); return; }
    localStorage.setItem(WHO_KEY, by);
    button.disabled = true;
    try {
      await acknowledge(a.id, by, note.value.trim());
    } catch (err) {
      // Kept on screen (acknowledged by someone else meanwhile: the next poll shows it).
      problem.textContent = t("alarm-cannot-ack", { error: err.message });
      button.disabled = false;
      return;
    }
    refreshAlarms(true);
  });
  return form;
}

function activeCard(a) {
  const card = el("div", { class: `alarm ${a.severity}`, "data-alarm": a.id, "data-state": a.state },
    el("div", { class: "alarm-head" },
      el("span", { class: "sev" }, sevOf(a).label),
      el("strong", {}, ruleOf(a)),
      el("span", { class: "subject" }, a.subject),
      el("span", { class: "when" }, t("alarm-raised-ago", { time: alarmTime(a.raised_at), ago: duration(Date.now() - Date.parse(a.raised_at)) }))),
    el("p", { class: "message" }, msg(a.message_key, a.message)));
  const link = pageLink(a.link);
  const body = el("div", { class: "alarm-body" }, evidenceTable(a.evidence));
  card.append(body);
  const side = el("div", { class: "alarm-side" });
  body.append(side);
  if (link) side.append(el("p", {}, link));
  if (a.state === "acknowledged") {
    side.append(el("p", { class: "acked" }, t("alarm-acked-by", { who: a.acked_by, time: alarmTime(a.acked_at) })));
    if (a.ack_note) side.append(el("p", { class: "note" }, t("alarm-note-text", { note: a.ack_note })));
  } else {
    side.append(ackForm(a));
  }
  if (a.quiet) side.append(el("p", { class: "note" }, t("alarm-quiet")));
  return card;
}

function historyTable(rows) {
  const head = [t("hist-severity"), t("hist-alarm"), t("hist-subject"), t("hist-raised"), t("hist-cleared"), t("hist-lasted"), t("hist-acknowledged"), t("hist-state")];
  const tbl = el("table", { class: "history" }, el("tr", {}, ...head.map((h) => el("th", {}, h))));
  for (const a of rows) {
    const end = a.cleared_at ? Date.parse(a.cleared_at) : Date.now();
    tbl.append(el("tr", { "data-history": a.id, "data-state": a.state, title: msg(a.message_key, a.message) },
      el("td", { class: "sev-cell " + a.severity }, sevOf(a).label),
      el("td", {}, ruleOf(a)),
      el("td", {}, a.subject),
      el("td", {}, alarmTime(a.raised_at)),
      el("td", {}, a.cleared_at ? alarmTime(a.cleared_at) : "—"),
      el("td", {}, a.cleared_at ? duration(end - Date.parse(a.raised_at)) : t("hist-so-far", { duration: duration(end - Date.parse(a.raised_at)) })),
      el("td", {}, a.acked_by ? `${a.acked_by}, ${alarmTime(a.acked_at)}` + (a.ack_note ? ` (${a.ack_note})` : "") : "—"),
      el("td", {}, stateOf(a.state))));
  }
  return tbl;
}

async function alarmsPage(s, params) {
  const filter = params.get("state") || "";
  const { alarms } = await api("alarms", { since: s.from.toISOString() });
  const shown = alarms.filter((a) => !filter || a.state === filter);
  const active = shown.filter((a) => a.state !== "cleared").sort(bySeverity);
  const past = shown.filter((a) => a.state === "cleared");

  const controls = section(t("nav-alarms"), true);
  const pick = el("select", { name: "state", "aria-label": t("alarms-state") }, el("option", { value: "" }, t("alarms-every-state")));
  for (const v of Object.keys(STATES)) pick.append(el("option", { value: v }, stateOf(v)));
  pick.value = filter;
  pick.addEventListener("change", () => {
    const p = new URLSearchParams(params);
    if (pick.value) p.set("state", pick.value); else p.delete("state");
    setState("alarms", p);
  });
  controls.append(el("form", { class: "mv" }, el("label", {}, t("alarms-show"), pick)),
    el("p", { class: "note" }, t("alarms-history-since", { time: alarmTime(s.from), zone: TZ })));

  const now = section(t("alarms-active", { n: active.length }), true);
  now.classList.add("active-alarms");
  if (!active.length) now.append(el("p", { class: "note" }, filter === "cleared" ? t("alarms-hidden") : t("alarms-none-active")));
  for (const a of active) now.append(activeCard(a));

  const hist = section(t("alarms-history", { n: past.length }), true);
  hist.classList.add("alarm-history");
  if (past.length) hist.append(historyTable(past));
  else hist.append(el("p", { class: "note" }, t("alarms-none-cleared")));
}
PAGES.alarms = { title: () => t("nav-alarms"), render: alarmsPage };

// ---------- the banner: every page, every few seconds, one small request ----------
const BANNER_EVERY_MS = 5000;
let lastSeen = null;
function renderBanner(active) {
  const banner = document.getElementById("banner");
  if (!active.length) { banner.hidden = true; banner.replaceChildren(); return; }
  const sorted = [...active].sort(bySeverity);
  const top = sorted[0];
  const counts = Object.keys(SEVERITY)
    .map((sev) => [sev, active.filter((a) => a.severity === sev).length])
    .filter(([, n]) => n)
    .map(([sev, n]) => t("banner-count", { n, severity: SEVERITY[sev].label() }));
  const unacked = active.filter((a) => a.state === "raised").length;
  banner.className = "banner " + top.severity;
  banner.dataset.count = String(active.length);
  banner.replaceChildren(
    el("strong", {}, t("banner-active", { n: active.length })),
    el("span", { class: "counts" }, counts.join(" · ") + (unacked ? " · " + t("banner-unacked", { n: unacked }) : "")),
    el("span", { class: "top" }, `${ruleOf(top)}: ${msg(top.message_key, top.message)}`),
    el("a", { href: "#/alarms" }, t("banner-view")));
  banner.hidden = false;
}
// Polls the active alarms; when they change, the alarms page reloads itself (unless someone
// is typing in it).
async function refreshAlarms(force) {
  if (document.hidden && !force) return;
  let active;
  try {
    ({ alarms: active } = await api("alarms", { state: "active" }));
  } catch {
    return; // the next poll retries; the page's own status line shows an API outage
  }
  renderBanner(active);
  const seen = JSON.stringify(active.map((a) => [a.occurrence, a.state]));
  const changed = lastSeen !== null && seen !== lastSeen;
  lastSeen = seen;
  if (state().page === "alarms" && (force || (changed && !typing()))) show();
}
// The banner speaks the page's language: it waits for the catalogue (app.js's `language`).
language.then(() => {
  refreshAlarms();
  setInterval(refreshAlarms, BANNER_EVERY_MS);
  // A tab in the background does not poll; brought back, it asks at once.
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshAlarms(); });
});
