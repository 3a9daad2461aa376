"use strict";
// Alarms in the dashboard: the alarms page (#/alarms) and the banner above every page.
// Loaded after app.js, whose helpers (api, el, section, inPlant, TOKEN, PAGES, show) it uses.

const SEVERITY = {
  critical: { rank: 3, label: "critical 嚴重" },
  warning: { rank: 2, label: "warning 警告" },
  info: { rank: 1, label: "info 資訊" },
};
const RULES = {
  demand: "Demand 需量",
  device_silent: "Device silent 設備無回應",
  agent_offline: "Agent offline 代理程式離線",
  readings_lost: "Readings lost 讀值遺失",
  spool_backlog: "Spool backlog 暫存積壓",
  spool_evictions: "Spool evictions 暫存淘汰",
  power_factor: "Power factor 功率因數",
  store_backlog: "InfluxDB backlog 資料庫積壓",
  specific_power: "Specific power 比功率",
};
const STATES = {
  raised: "raised 未確認",
  acknowledged: "acknowledged 已確認",
  cleared: "cleared 已解除",
};
// Evidence keys: label, and the unit when the key itself implies one.
const EVIDENCE = {
  value: ["value 數值"],
  threshold: ["threshold 門檻"],
  projected_kw: ["projected average 預估需量", "kW"],
  current_kw: ["present load 目前負載", "kW"],
  contract_kw: ["contract 契約容量", "kW"],
  warn_kw: ["warn level 警戒值", "kW"],
  over_kw: ["over warn level 超出警戒", "kW"],
  shed_kw: ["to shed now 需卸載", "kW"],
  minutes_left: ["window left 時段剩餘", "min"],
  window_start: ["window start 時段開始"],
  window_end: ["window end 時段結束"],
  window: ["over 統計期間"],
  last_seen: ["last reading 最後讀值"],
  since: ["since 起始"],
  kw: ["feeder power 功率", "kW"],
  air_flow: ["air flow 空氣流量", "m³/min"],
  reason: ["reason 原因"],
};
const WHO_KEY = "kilowatch.alarms.who";
const sevOf = (a) => SEVERITY[a.severity] || { rank: 0, label: a.severity };
const ruleOf = (a) => RULES[a.rule] || a.rule;
const alarmTime = (t) => inPlant({ dateStyle: "short", timeStyle: "medium" }).format(new Date(t));
const bySeverity = (a, b) => sevOf(b).rank - sevOf(a).rank || Date.parse(b.raised_at) - Date.parse(a.raised_at);

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} d ${h % 24} h`;
}

// The engine's link is the gateway path of a dashboard page (/dashboard/#/plant): followed
// as a hash, it keeps this page's ?token=.
function pageLink(link) {
  const hash = (link || "").split("#")[1];
  if (!hash) return null;
  const page = hash.replace(/^\/?/, "").split("?")[0];
  const title = PAGES[page] ? PAGES[page].title : page;
  return el("a", { href: "#/" + hash.replace(/^\/?/, ""), class: "alarm-link" }, `${title} →`);
}

// The demand evidence names its value and threshold (projected_kw, warn_kw): shown once.
const SAME_AS = { value: "projected_kw", threshold: "warn_kw" };
function evidenceTable(ev) {
  const t = el("table", { class: "evidence" });
  // The known keys in the order of EVIDENCE (value and threshold first), then any other.
  const order = Object.keys(EVIDENCE);
  const rank = (k) => (order.includes(k) ? order.indexOf(k) : order.length);
  const keys = Object.keys(ev || {}).sort((a, b) => rank(a) - rank(b));
  for (const k of keys) {
    const v = ev[k];
    if (k === "unit" || v === null || v === undefined || (SAME_AS[k] && ev[SAME_AS[k]] !== undefined)) continue;
    const [label, unit] = EVIDENCE[k] || [k.replace(/_/g, " ")];
    const u = k === "value" || k === "threshold" ? ev.unit || "" : unit || "";
    const shown = typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) ? alarmTime(v) : typeof v === "number" ? fmt(v) : String(v);
    t.append(el("tr", { "data-key": k }, el("th", {}, label), el("td", {}, shown + (u && typeof v === "number" ? " " + u : ""))));
  }
  return t;
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
  const who = el("input", { name: "by", placeholder: "your name 姓名", required: "", maxlength: "200", "aria-label": "who acknowledges 確認人" });
  who.value = localStorage.getItem(WHO_KEY) || "";
  const note = el("input", { name: "note", placeholder: "note (optional) 備註", maxlength: "2000", "aria-label": "note 備註" });
  const button = el("button", { type: "submit" }, "Acknowledge 確認");
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
      problem.textContent = "cannot acknowledge: " + err.message;
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
      el("span", { class: "when" }, `raised 發生 ${alarmTime(a.raised_at)} · ${duration(Date.now() - Date.parse(a.raised_at))} ago`)),
    el("p", { class: "message" }, a.message));
  const link = pageLink(a.link);
  const body = el("div", { class: "alarm-body" }, evidenceTable(a.evidence));
  card.append(body);
  const side = el("div", { class: "alarm-side" });
  body.append(side);
  if (link) side.append(el("p", {}, link));
  if (a.state === "acknowledged") {
    side.append(el("p", { class: "acked" }, `acknowledged 已確認 by ${a.acked_by} at ${alarmTime(a.acked_at)}`));
    if (a.ack_note) side.append(el("p", { class: "note" }, "note 備註: " + a.ack_note));
  } else {
    side.append(ackForm(a));
  }
  if (a.quiet) side.append(el("p", { class: "note" }, "in quiet hours: not notified 靜音時段"));
  return card;
}

function historyTable(rows) {
  const head = ["severity 等級", "alarm 警報", "subject 對象", "raised 發生", "cleared 解除", "lasted 持續", "acknowledged 確認", "state 狀態"];
  const t = el("table", { class: "history" }, el("tr", {}, ...head.map((h) => el("th", {}, h))));
  for (const a of rows) {
    const end = a.cleared_at ? Date.parse(a.cleared_at) : Date.now();
    t.append(el("tr", { "data-history": a.id, "data-state": a.state, title: a.message },
      el("td", { class: "sev-cell " + a.severity }, sevOf(a).label),
      el("td", {}, ruleOf(a)),
      el("td", {}, a.subject),
      el("td", {}, alarmTime(a.raised_at)),
      el("td", {}, a.cleared_at ? alarmTime(a.cleared_at) : "—"),
      el("td", {}, duration(end - Date.parse(a.raised_at)) + (a.cleared_at ? "" : " so far")),
      el("td", {}, a.acked_by ? `${a.acked_by}, ${alarmTime(a.acked_at)}` + (a.ack_note ? ` (${a.ack_note})` : "") : "—"),
      el("td", {}, STATES[a.state] || a.state)));
  }
  return t;
}

async function alarmsPage(s, params) {
  const filter = params.get("state") || "";
  const { alarms } = await api("alarms", { since: s.from.toISOString() });
  const shown = alarms.filter((a) => !filter || a.state === filter);
  const active = shown.filter((a) => a.state !== "cleared").sort(bySeverity);
  const past = shown.filter((a) => a.state === "cleared");

  const controls = section("Alarms 警報", true);
  const pick = el("select", { name: "state", "aria-label": "state 狀態" }, el("option", { value: "" }, "every state 全部"));
  for (const [v, label] of Object.entries(STATES)) pick.append(el("option", { value: v }, label));
  pick.value = filter;
  pick.addEventListener("change", () => {
    const p = new URLSearchParams(params);
    if (pick.value) p.set("state", pick.value); else p.delete("state");
    setState("alarms", p);
  });
  controls.append(el("form", { class: "mv" }, el("label", {}, "show 顯示", pick)),
    el("p", { class: "note" }, `History since ${alarmTime(s.from)} (the range above); active alarms whatever their age. Times in ${TZ}.`));

  const now = section(`Active 進行中 (${active.length})`, true);
  now.classList.add("active-alarms");
  if (!active.length) now.append(el("p", { class: "note" }, filter === "cleared" ? "hidden by the filter" : "No active alarm 目前無警報"));
  for (const a of active) now.append(activeCard(a));

  const hist = section(`History 歷史紀錄 (${past.length})`, true);
  hist.classList.add("alarm-history");
  if (past.length) hist.append(historyTable(past));
  else hist.append(el("p", { class: "note" }, "No cleared alarm in this range 此期間無已解除警報"));
}
PAGES.alarms = { title: "Alarms 警報", render: alarmsPage };

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
    .map(([sev, n]) => `${n} ${SEVERITY[sev].label}`);
  const unacked = active.filter((a) => a.state === "raised").length;
  banner.className = "banner " + top.severity;
  banner.dataset.count = String(active.length);
  banner.replaceChildren(
    el("strong", {}, `⚠ ${active.length} active alarm${active.length > 1 ? "s" : ""} 警報進行中`),
    el("span", { class: "counts" }, counts.join(" · ") + (unacked ? ` · ${unacked} not acknowledged 未確認` : "")),
    el("span", { class: "top" }, `${ruleOf(top)}: ${top.message}`),
    el("a", { href: "#/alarms" }, "View alarms 查看警報 →"));
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
refreshAlarms();
setInterval(refreshAlarms, BANNER_EVERY_MS);
// A tab in the background does not poll; brought back, it asks at once.
document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshAlarms(); });
