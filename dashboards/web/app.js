"use strict";
// kilowatch dashboard: plain JavaScript over the gateway's read-only API, no build step.
// State lives in the URL hash (#/page?range=7d or ?from=…&to=…), so a link shows the same view.
//
// Language: every visible string goes through t("key") or t("key", { name: value }). The
// messages are the gateway's catalogue, gateway/i18n/en.ftl and zh-TW.ftl (served at
// /api/v1/i18n/{lang}): add a key to BOTH files; `{ $name }` in a message is filled from the
// object. A key missing from the catalogue shows as itself and is logged as a warning, which
// fails the dashboard test; a unit test checks every t("…") literal in dashboards/web/*.js
// exists, so write keys as literals. Numbers: fmt(v) / num(v, digits); times: inPlant(opts),
// both in the page's language (LANG). The language is ?lang= in the URL, else the header's
// switch (remembered in localStorage), else the site's ([site] language).
// A page registers as PAGES.id = { title: () => t("nav-id"), render }.

const PAGES = {
  plant: { title: () => t("nav-plant"), render: plantPage },
  air: { title: () => t("nav-air"), render: airPage },
  chillers: { title: () => t("nav-chillers"), render: chillerPage },
  savings: { title: () => t("nav-savings"), render: savingsPage },
  health: { title: () => t("nav-health"), render: healthPage },
};
// A page's title in the page's language (a plain string is taken as it is).
const titleOf = (p) => (typeof p.title === "function" ? p.title() : p.title);

// ---------- language ----------
const LANG_KEY = "kilowatch.lang";
let LANG = "en";
let MESSAGES = {};
const UNTRANSLATED = new Set(); // keys asked for but missing: the dashboard test reads it
function t(key, args) {
  const text = MESSAGES[key];
  if (text === undefined) {
    UNTRANSLATED.add(key);
    console.warn("untranslated: " + key);
    return key;
  }
  return text.replace(/\{\$([A-Za-z0-9_-]+)\}/g, (m, k) => (args && args[k] !== undefined ? String(args[k]) : m));
}
// A sentence of the gateway's own (a verdict, a reason, an alarm) sent as catalogue key and
// arguments, in the page's language; `fallback`, its English, when it came without a key (an
// alarm stored by an older gateway).
function msg(m, fallback) {
  if (!m || !m.key) return fallback || "";
  const args = {};
  for (const [k, v] of Object.entries(m.args || {})) {
    args[k] = Array.isArray(v) ? v.map((x) => msg(x)).join(t("list-separator")) : v && typeof v === "object" ? msg(v) : String(v);
  }
  return t(m.key, args);
}
const numbers = new Map();
// v with exactly `digits` decimals, grouped as the language writes numbers.
function num(v, digits) {
  const key = LANG + digits;
  if (!numbers.has(key)) numbers.set(key, new Intl.NumberFormat(LANG, { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  return numbers.get(key).format(v);
}
// The language (?lang=, the switch, the site's) and its messages, before the first page.
async function loadLanguage() {
  const asked = new URLSearchParams(location.search).get("lang") || localStorage.getItem(LANG_KEY);
  const { default: site, languages } = await api("i18n");
  LANG = languages.some((l) => l.tag === asked) ? asked : site;
  MESSAGES = (await api("i18n/" + LANG)).messages;
  document.documentElement.lang = LANG;
  const pick = document.getElementById("lang");
  for (const l of languages) pick.append(el("option", { value: l.tag }, l.name));
  pick.value = LANG;
  pick.addEventListener("change", () => {
    localStorage.setItem(LANG_KEY, pick.value);
    const q = new URLSearchParams(location.search);
    q.set("lang", pick.value);
    location.search = q.toString();
  });
}
const RANGES = { "24h": 24, "7d": 168, "30d": 720, "90d": 2160 };
const COLORS = ["#1f5fa8", "#e07b00", "#2a9d3a", "#b3261e", "#6b3fa0", "#0e7c86"];

// ---------- state in the URL ----------
function state() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query || "");
  return { page: PAGES[path] ? path : "plant", params };
}
function setState(page, params) {
  location.hash = "#/" + page + (params.toString() ? "?" + params : "");
}
function span(params) {
  // Dates are plant dates: a day runs from midnight to midnight in the site's time zone.
  const to = params.get("to") ? plantMidnight(addDays(params.get("to"), 1)) : new Date();
  const from = params.get("from")
    ? plantMidnight(params.get("from"))
    : new Date(to.getTime() - (RANGES[params.get("range") || "7d"] || 168) * 3600e3);
  return { from, to, hours: (to - from) / 3600e3 };
}

// ---------- the plant's clock ----------
// Times show in the site's time zone (from /api/v1/health), not the browser's: a coach abroad
// and the plant see the same days and shifts.
let TZ = Intl.DateTimeFormat().resolvedOptions().timeZone;
const formats = new Map();
function inPlant(opts) {
  const key = JSON.stringify(opts) + TZ + LANG;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(LANG, { timeZone: TZ, ...opts }));
  return formats.get(key);
}
const plantTime = (t) => inPlant({ dateStyle: "short", timeStyle: "short" }).format(new Date(t));
const plantClock = (t) => inPlant({ timeStyle: "medium" }).format(new Date(t));
// The plant's wall clock at instant t, as the UTC instant with the same digits.
let wallFormat = null;
function plantWall(t) {
  if (!wallFormat || wallFormat.resolvedOptions().timeZone !== TZ) {
    wallFormat = new Intl.DateTimeFormat("en-US", { timeZone: TZ, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
  }
  const p = Object.fromEntries(wallFormat.formatToParts(new Date(t)).map((x) => [x.type, Number(x.value)]));
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}
// How far the plant's clock is ahead of UTC at instant t, in ms.
const tzOffset = (t) => plantWall(t) - Math.floor(t / 1000) * 1000;
// YYYY-MM-DD of instant t on the plant's calendar.
const plantDate = (t) => new Date(plantWall(+t)).toISOString().slice(0, 10);
const addDays = (date, n) => new Date(Date.parse(date + "T00:00:00Z") + n * 864e5).toISOString().slice(0, 10);
// The instant the plant's clock shows 00:00 on `date` (YYYY-MM-DD); twice round for DST.
function plantMidnight(date) {
  const wall = Date.parse(date + "T00:00:00Z");
  let t = wall - tzOffset(wall);
  t = wall - tzOffset(t);
  return new Date(t);
}
function stepFor(hours) {
  return hours <= 48 ? "15m" : hours <= 24 * 14 ? "1h" : "1d";
}

// ---------- data ----------
// Off loopback the gateway wants its token: opened as /dashboard/?token=…, every call carries it.
const TOKEN = new URLSearchParams(location.search).get("token");
async function api(path, params) {
  const p = new URLSearchParams(params || {});
  if (TOKEN) p.set("token", TOKEN);
  const url = "../api/v1/" + path + (p.toString() ? "?" + p : "");
  const res = await fetch(url, { cache: "no-store" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || "HTTP " + res.status);
  return body;
}
// Set when an answer says the gateway is still computing the indicators of all stored data
// (its first start, or a changed site file): the page says so and reloads sooner.
let computing = false;
async function enpi(asset, s, step) {
  const r = await api("enpi", { asset, from: s.from.toISOString(), to: s.to.toISOString(), step: step || stepFor(s.hours), lang: LANG });
  if (r.computing) computing = true;
  return r;
}
async function assetsOf(type) {
  const list = await api("enpi");
  return list.assets.filter((a) => a.type === type);
}
function seriesOf(report, name) {
  return report.rows
    .filter((r) => r.values[name] !== undefined)
    .map((r) => [Date.parse(r.ts), r.values[name]]);
}
function unitOf(report, name) {
  const d = report.indicators.find((i) => i.name === name);
  return d ? d.unit : "";
}

// ---------- rendering helpers ----------
const fmt = (v, digits) => {
  if (typeof v === "string") return v;
  if (v === null || v === undefined || !isFinite(v)) return "—";
  if (digits === undefined && Number.isInteger(v)) return num(v, 0);
  if (digits !== undefined) return num(v, digits);
  const a = Math.abs(v);
  return num(v, a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3);
};
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c));
  return e;
}
function section(title, wide) {
  const s = el("section", wide ? { class: "wide" } : {}, el("h2", {}, title));
  document.getElementById("main").append(s);
  return s;
}
function tile(parent, label, value, unit, bad) {
  parent.append(el("div", { class: "tile" + (bad ? " bad" : ""), "data-tile": label },
    el("div", { class: "label" }, label),
    el("span", { class: "value" }, fmt(value)), el("span", { class: "unit" }, unit || "")));
}
function ticks(lo, hi, n) {
  const raw = (hi - lo) / n || 1;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}
// An SVG chart: series of [x, y] points (x = ms for time charts), axes with units, a legend.
function chart(parent, opts) {
  const W = 640, H = 260, L = 62, R = 12, T = 26, B = 36;
  const all = opts.series.flatMap((s) => s.points).filter((p) => isFinite(p[0]) && isFinite(p[1]));
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", opts.title || opts.y);
  svg.dataset.points = String(all.length);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  parent.append(svg);
  if (!all.length) {
    add("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, t("chart-no-data"));
    return svg;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  for (const h of opts.hlines || []) { y0 = Math.min(y0, h.y); y1 = Math.max(y1, h.y); }
  if (opts.zero) { y0 = Math.min(0, y0); y1 = Math.max(0, y1); }
  if (x1 === x0) x1 = x0 + 1;
  const pad = (y1 - y0) * 0.06 || Math.abs(y1) * 0.1 || 1;
  y0 -= pad; y1 += pad;
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  for (const v of ticks(y0, y1, 5)) {
    add("line", { x1: L, x2: W - R, y1: py(v), y2: py(v), stroke: "#eee" });
    add("text", { x: L - 5, y: py(v) + 4, "text-anchor": "end" }, fmt(v));
  }
  if (opts.time) {
    const days = (x1 - x0) / 864e5;
    const every = [1 / 6, 0.25, 0.5, 1, 2, 7, 14, 30].find((d) => days / d <= 7) || 61;
    // Ticks on the plant's midnights (whole days) or whole hours, labelled in its zone.
    const at = [];
    if (every >= 1) {
      for (let d = plantDate(x0), t = plantMidnight(d).getTime(); t <= x1; d = addDays(d, every), t = plantMidnight(d).getTime()) at.push(t);
    } else {
      const step = every * 864e5;
      for (let t = x0 - ((x0 + tzOffset(x0)) % 3600e3); t <= x1; t += step) at.push(t);
    }
    const label = every < 1 ? inPlant({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" }) : inPlant({ month: "2-digit", day: "2-digit" });
    for (const t of at) {
      if (t < x0) continue;
      add("line", { x1: px(t), x2: px(t), y1: H - B, y2: H - B + 4, stroke: "#999" });
      const edge = px(t) > W - R - 18 ? "end" : "middle"; // keep the last label inside the chart
      add("text", { x: px(t), y: H - B + 16, "text-anchor": edge, class: "xtick", "data-t": t }, label.format(new Date(t)));
    }
  } else {
    for (const v of ticks(x0, x1, 6)) add("text", { x: px(v), y: H - B + 16, "text-anchor": "middle" }, fmt(v));
  }
  add("line", { x1: L, x2: L, y1: T, y2: H - B, stroke: "#333" });
  add("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#333" });
  add("text", { x: 12, y: (T + H - B) / 2, transform: `rotate(-90 12 ${(T + H - B) / 2})`, "text-anchor": "middle" }, opts.y);
  add("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, opts.x || (opts.time ? t("chart-time") : ""));
  for (const h of opts.hlines || []) {
    add("line", { x1: L, x2: W - R, y1: py(h.y), y2: py(h.y), stroke: h.color || "#b3261e", "stroke-dasharray": "6 4" });
    add("text", { x: W - R - 4, y: py(h.y) - 4, "text-anchor": "end", fill: h.color || "#b3261e" }, h.label);
  }
  if (opts.zero && y0 < 0 && y1 > 0) add("line", { x1: L, x2: W - R, y1: py(0), y2: py(0), stroke: "#333", "stroke-dasharray": "3 3" });
  opts.series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    if (s.dots) {
      for (const [x, y] of s.points) add("circle", { cx: px(x), cy: py(y), r: 2.4, fill: color, "fill-opacity": 0.7 });
    } else if (s.points.length) {
      add("path", { d: s.points.map(([x, y], k) => (k ? "L" : "M") + px(x).toFixed(1) + "," + py(y).toFixed(1)).join(""), fill: "none", stroke: color, "stroke-width": 1.6 });
    }
    const lx = L + 8 + i * 150;
    add("rect", { x: lx, y: 8, width: 12, height: 4, fill: color });
    add("text", { x: lx + 16, y: 13 }, s.name);
  });
  return svg;
}
function alerts(parent, items) {
  const ul = el("ul", { class: "alerts" });
  if (!items.length) ul.append(el("li", { class: "ok" }, t("alerts-none")));
  for (const [level, text] of items) ul.append(el("li", { class: level }, text));
  parent.append(ul);
}
function missingReasons(report) {
  const counts = new Map();
  for (const r of report.rows) for (const [k, why] of Object.entries(r.missing || {})) {
    if (/billed per month|configured|no production in this interval/.test(why)) continue;
    const what = k + ": " + ((report.missing_said || {})[why] || why);
    counts.set(what, (counts.get(what) || 0) + 1);
  }
  return [...counts].slice(0, 6).map(([what, n]) => ["warn", t("alerts-intervals", { what, n })]);
}

// ---------- pages ----------
async function plantPage(s) {
  const [plants, latest] = await Promise.all([assetsOf("plant"), api("latest")]);
  if (!plants.length) { section(t("plant-title")).append(el("p", { class: "note" }, t("plant-none"))); return; }
  const id = plants[0].id;
  const midnight = plantMidnight(plantDate(Date.now()));
  const [today, range, daily] = await Promise.all([
    enpi(id, { from: midnight, to: new Date(), hours: 24 }, "1d"),
    enpi(id, s, s.hours <= 72 ? "15m" : "1h"),
    enpi(id, s, "1d"),
  ]);
  const power = latest.readings.filter((r) => r.quantity === "active_power" && r.device === "incomer");
  const v = today.summary.values;
  const tiles = el("div", { class: "tiles" });
  const sec = section(plants[0].name || id, true);
  sec.append(tiles);
  tile(tiles, t("tile-live-power"), power.length ? power[0].value : null, "kW");
  tile(tiles, t("tile-energy-today"), v.energy_kwh, "kWh");
  tile(tiles, t("tile-energy-cost-today"), v.energy_cost, unitOf(today, "energy_cost"));
  tile(tiles, t("tile-demand-today"), v.demand_kw, "kW", v.exceedances > 0);
  tile(tiles, t("tile-contract"), v.contract_kw, "kW");
  tile(tiles, t("tile-power-factor"), v.power_factor, "");
  tile(tiles, t("tile-co2e-today"), v.co2e_kg, "kg");
  tile(tiles, t("tile-sec-today"), v.sec, unitOf(today, "sec"));
  const demand = seriesOf(range, "demand_kw");
  const contract = range.summary.values.contract_kw;
  chart(section(t("plant-chart-demand")), {
    time: true, y: t("plant-axis-demand"),
    series: [{ name: t("plant-series-demand"), points: demand }],
    hlines: contract ? [{ y: contract, label: t("plant-contract-line", { kw: fmt(contract) }) }] : [],
  });
  chart(section(t("plant-chart-energy")), {
    time: true, y: t("plant-axis-energy"),
    series: [{ name: t("plant-series-energy"), points: seriesOf(daily, "energy_kwh") }],
  });
  chart(section(t("plant-chart-pf")), {
    time: true, y: t("plant-axis-pf"),
    series: [{ name: t("plant-series-pf"), points: seriesOf(range, "power_factor") }],
  });
  const items = [];
  const ex = range.rows.filter((r) => r.values.exceedances > 0).length;
  if (ex) items.push(["bad", t("plant-exceedances", { n: ex })]);
  const stale = latest.readings.filter((r) => Date.now() - Date.parse(r.ts) > 5 * 60e3);
  const offline = [...new Set(stale.map((r) => r.device))];
  if (offline.length) items.push(["bad", t("plant-offline", { devices: offline.join(", ") })]);
  items.push(...missingReasons(range));
  alerts(section(t("alerts-title")), items);
}

async function airPage(s) {
  const rooms = await assetsOf("compressor");
  if (!rooms.length) { section(t("nav-air")).append(el("p", { class: "note" }, t("air-none"))); return; }
  for (const room of rooms) {
    const [r, d] = await Promise.all([enpi(room.id, s), enpi(room.id, s, "1d")]);
    const v = r.summary.values;
    const sec = section(room.name || room.id, true);
    const tiles = el("div", { class: "tiles" });
    sec.append(tiles);
    tile(tiles, t("tile-specific-power"), v.specific_power, unitOf(r, "specific_power"));
    tile(tiles, t("tile-loaded"), v.loaded_pct, "%");
    tile(tiles, t("tile-leakage"), v.leakage_pct, "%", v.leakage_pct > 20);
    tile(tiles, t("tile-pressure-band"), v.pressure_band, "bar");
    tile(tiles, t("tile-energy"), v.energy_kwh, "kWh");
    chart(section(t("air-chart-specific-power")), { time: true, y: t("air-axis-specific-power", { unit: unitOf(r, "specific_power") }), series: [{ name: t("air-series-specific-power"), points: seriesOf(r, "specific_power") }] });
    chart(section(t("air-chart-loaded")), { time: true, y: t("air-axis-loaded"), series: [{ name: t("air-series-loaded"), points: seriesOf(r, "loaded_pct") }] });
    chart(section(t("air-chart-pressure")), {
      time: true, y: t("air-axis-pressure"),
      series: [
        { name: t("series-max"), points: seriesOf(r, "pressure_max") },
        { name: t("series-average"), points: seriesOf(r, "pressure_avg") },
        { name: t("series-min"), points: seriesOf(r, "pressure_min") },
      ],
    });
    chart(section(t("air-chart-leakage")), { time: true, y: t("air-axis-leakage"), series: [{ name: t("air-series-leakage"), points: seriesOf(d, "leakage_pct") }] });
  }
}

async function chillerPage(s) {
  const chillers = await assetsOf("chiller");
  if (!chillers.length) { section(t("nav-chillers")).append(el("p", { class: "note" }, t("chillers-none"))); return; }
  const series = await api("series");
  const outdoor = series.series.find((x) => x.quantity === "outdoor_temp");
  const step = stepFor(s.hours);
  let temp = new Map();
  if (outdoor) {
    const q = await api("query", { series: `${outdoor.site}/${outdoor.device}/${outdoor.quantity}`, from: s.from.toISOString(), to: s.to.toISOString(), step });
    temp = new Map((q.points || []).filter((p) => p.avg !== null).map((p) => [Date.parse(p.ts), p.avg]));
  }
  for (const c of chillers) {
    const r = await enpi(c.id, s, step);
    const v = r.summary.values;
    const sec = section(c.name || c.id, true);
    const tiles = el("div", { class: "tiles" });
    sec.append(tiles);
    tile(tiles, "kW/TR", v.kw_per_tr, "kW/TR");
    tile(tiles, t("tile-cop"), v.cop, "");
    tile(tiles, t("tile-cooling-load"), v.cooling_tr, "TR");
    tile(tiles, "ΔT", v.delta_t, "°C");
    tile(tiles, t("tile-energy"), v.energy_kwh, "kWh");
    chart(section(t("chillers-chart-efficiency")), { time: true, y: "kW/TR", series: [{ name: "kW/TR", points: seriesOf(r, "kw_per_tr") }] });
    chart(section(t("chillers-chart-load")), {
      time: true, y: "TR / °C",
      series: [{ name: t("chillers-series-load"), points: seriesOf(r, "cooling_tr") }, { name: t("chillers-series-dt"), points: seriesOf(r, "delta_t") }],
    });
    const scatter = seriesOf(r, "kw_per_tr").filter(([t]) => temp.has(t)).map(([t, k]) => [temp.get(t), k]);
    chart(section(t("chillers-chart-scatter")), {
      x: t("chillers-axis-outdoor"), y: "kW/TR", series: [{ name: t("chillers-series-scatter"), points: scatter, dots: true }],
    });
  }
}

// A normal tail is never exactly 0 or 1: the extremes show as bounds.
const confidence = (c) => (c > 0.999 ? "> 99.9 %" : c < 0.001 ? "< 0.1 %" : (100 * c).toFixed(1) + " %");

// A guarantee's status (`met`, `on track`, …) in the page's language.
const PLAN_STATUS = { met: "plan-status-met", shortfall: "plan-status-shortfall", "on track": "plan-status-on-track", behind: "plan-status-behind", "not established": "plan-status-not-established", pending: "plan-status-pending" };
const planStatus = (s) => (PLAN_STATUS[s] ? t(PLAN_STATUS[s]) : s);

// The site's M&V plans (`[[mv_plans]]`): each contract year's savings against the guarantee.
async function plansTable() {
  const { plans } = await api("mv/plans");
  if (!plans.length) return;
  const sec = section(t("plans-title"), true);
  const head = [t("plans-plan"), t("plans-boundary"), t("plans-guarantee"), t("plans-year"), t("plans-savings"), t("plans-guaranteed"), t("plans-shortfall"), t("plans-confidence"), t("plans-status"), ""];
  const table = el("table", { class: "plans" }, el("tr", {}, ...head.map((h) => el("th", {}, h))));
  const kwh = (v) => (v == null ? "—" : num(Math.round(v), 0));
  for (const p of plans) {
    const g = p.guarantee.percent != null ? `${p.guarantee.percent} %` : t("plans-per-year", { kwh: kwh(p.guarantee.kwh_per_year) });
    const link = el("a", { href: `../api/v1/mv/plans/${encodeURIComponent(p.id)}?` + new URLSearchParams({ format: "html", lang: LANG, ...(TOKEN ? { token: TOKEN } : {}) }), target: "_blank" }, t("plans-report"));
    const years = p.years.filter((y) => y.through);
    const rows = years.length ? years : [null];
    for (const y of rows) {
      const status = y ? y.status : p.status;
      table.append(el("tr", { "data-plan": p.id },
        el("td", {}, p.name || p.id), el("td", {}, p.boundary), el("td", {}, g),
        el("td", {}, y ? `${y.year} (${y.complete ? y.from + "–" + y.to : t("plans-to", { date: y.through })})` : "—"),
        el("td", {}, kwh(y && y.avoided_kwh)), el("td", {}, kwh(y && y.guarantee_kwh)), el("td", {}, kwh(y && y.shortfall_kwh)),
        el("td", {}, y && y.confidence != null ? confidence(y.confidence) : "—"),
        el("td", { class: ["shortfall", "behind", "not established"].includes(status) ? "bad" : "", title: y ? msg(y.explanation_message, y.explanation) : msg(p.explanation_message, p.explanation) }, planStatus(status)),
        el("td", {}, link)));
    }
  }
  sec.append(table);
  for (const p of plans) sec.append(el("p", { class: "note" }, `${p.name || p.id}: ${msg(p.explanation_message, p.explanation)}`));
}

async function savingsPage(s, params) {
  await plansTable();
  const list = await api("enpi");
  const sec = section(t("mv-title"), true);
  const today = plantDate(Date.now());
  const back = (days) => addDays(today, -days);
  const form = el("form", { class: "mv" });
  const asset = el("select", { name: "asset" });
  for (const a of list.assets) asset.append(el("option", { value: a.id }, a.name || a.id));
  asset.value = params.get("asset") || (list.assets.find((a) => a.type === "plant") || list.assets[0] || {}).id || "";
  const baseline = el("input", { name: "baseline", value: params.get("baseline") || `${back(20)}..${back(11)}`, size: "24" });
  const reporting = el("input", { name: "reporting", value: params.get("reporting") || `${back(10)}..${back(1)}`, size: "24" });
  form.append(el("label", {}, t("mv-asset"), asset), el("label", {}, t("mv-baseline"), baseline), el("label", {}, t("mv-reporting"), reporting), el("button", { type: "submit" }, t("mv-verify")));
  sec.append(form);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams(params);
    p.set("asset", asset.value); p.set("baseline", baseline.value); p.set("reporting", reporting.value);
    setState("savings", p);
  });
  const q = { asset: asset.value, baseline: baseline.value, reporting: reporting.value };
  let r;
  try {
    r = await api("mv", q);
  } catch (e) {
    sec.append(el("p", { class: "note" }, t("mv-cannot", { error: e.message })));
    return;
  }
  const s2 = r.savings;
  sec.append(el("div", { class: "verdict" + (s2.verified ? " ok" : "") }, msg(s2.verdict_message, s2.verdict)));
  const tiles = el("div", { class: "tiles" });
  sec.append(tiles);
  tile(tiles, t("tile-avoided"), s2.avoided, r.energy_unit);
  tile(tiles, t("tile-uncertainty-90"), s2.uncertainty_90, r.energy_unit);
  tile(tiles, t("tile-savings"), s2.percent, "%");
  tile(tiles, t("tile-model"), r.model.form, "");
  tile(tiles, "R²", r.model.r2, "");
  const link = el("a", { href: "../api/v1/mv?" + new URLSearchParams({ ...q, format: "html", lang: LANG, ...(TOKEN ? { token: TOKEN } : {}) }), target: "_blank" }, t("mv-full-report"));
  sec.append(el("p", {}, link));
  const pts = (f) => r.series.map((p) => [Date.parse(p.t), f(p)]);
  const start = r.series.find((p) => p.reporting);
  chart(section(t("mv-chart-actual")), {
    time: true, y: t("mv-axis-energy", { step: r.granularity, unit: r.energy_unit }),
    series: [{ name: t("mv-series-actual"), points: pts((p) => p.actual) }, { name: t("mv-series-baseline"), points: pts((p) => p.modelled) }],
  });
  chart(section(t("mv-chart-cusum")), {
    time: true, y: `CUSUM (${r.energy_unit})`, zero: true,
    series: [{ name: "CUSUM", points: pts((p) => p.cusum) }],
  });
  if (start) sec.append(el("p", { class: "note" }, t("mv-reporting-starts", { date: plantDate(Date.parse(start.t)) })));
  if (r.warnings.length) alerts(section(t("mv-warnings")), (r.warning_messages || []).map((w, i) => ["warn", msg(w, r.warnings[i])]));
}

async function healthPage() {
  const [latest, health] = await Promise.all([api("latest"), api("health")]);
  const sec = section(t("health-gateway"), true);
  const tiles = el("div", { class: "tiles" });
  sec.append(tiles);
  tile(tiles, "MQTT", health.ingest.mqtt_connected ? t("health-connected") : t("health-disconnected"), "", !health.ingest.mqtt_connected);
  tile(tiles, t("tile-messages"), health.ingest.messages, "");
  tile(tiles, t("tile-rejected"), health.ingest.rejected, "", health.ingest.rejected > 0);
  tile(tiles, t("tile-store-errors"), health.ingest.store_errors, "", health.ingest.store_errors > 0);
  tile(tiles, t("tile-dead-letters"), health.dead_letters, "", health.dead_letters > 0);
  tile(tiles, t("tile-rollups-pending"), health.rollups_pending, "");
  tile(tiles, t("tile-influx-pending"), health.influx.pending_batches, "", health.influx.pending_batches > 0);
  const sq = health.ingest.sequence;
  tile(tiles, t("tile-polls-missing"), sq.missing, "", sq.missing > 0);
  tile(tiles, t("tile-polls-lost"), sq.lost, "", sq.lost > 0);
  tile(tiles, t("tile-polls-repaired"), sq.repaired, "");
  const devices = new Map();
  for (const r of latest.readings) {
    const d = devices.get(r.device) || { newest: "", bad: 0, n: 0 };
    d.newest = r.ts > d.newest ? r.ts : d.newest;
    d.bad += r.quality === "good" ? 0 : 1;
    d.n += 1;
    devices.set(r.device, d);
  }
  // Delivery per device, from the poll numbering: holes found, refilled by replay, or lost.
  const seqs = new Map((health.sequences || []).map((s) => [s.device, s]));
  const table = el("table", {}, el("tr", {}, el("th", {}, t("health-device")), el("th", {}, t("health-last-reading")), el("th", {}, t("health-age")), el("th", {}, t("health-quantities")), el("th", {}, t("health-not-good")),
    el("th", {}, t("health-last-seq")), el("th", {}, t("health-gaps")), el("th", {}, t("health-missing-now")), el("th", {}, t("health-repaired")), el("th", {}, t("health-lost"))));
  for (const [name, d] of devices) {
    const age = (Date.now() - Date.parse(d.newest)) / 1000;
    const ageCell = el("td", age > 300 ? { class: "bad" } : {}, fmt(age, 0));
    const s = seqs.get(name) || {};
    const num = (v, bad) => el("td", bad ? { class: "bad" } : {}, v === undefined ? "" : String(v));
    table.append(el("tr", { "data-device": name }, el("td", {}, name), el("td", {}, plantTime(d.newest)), ageCell, el("td", {}, String(d.n)), el("td", d.bad ? { class: "bad" } : {}, String(d.bad)),
      num(s.high_seq), num(s.gaps_detected), num(s.missing, s.missing > 0), num(s.repaired), num(s.lost, s.lost > 0)));
  }
  const devs = section(t("health-devices"), true);
  devs.append(table);
  // Each agent's latest health message: its spool backlog and per-device poll errors.
  const agents = section(t("health-agents"), true);
  if (!health.agents.length) agents.append(el("p", { class: "note" }, t("health-no-agent")));
  for (const a of health.agents) {
    const sp = a.spool || {};
    const tl = el("div", { class: "tiles" });
    agents.append(el("h3", {}, t("health-agent", { agent: a.agent, time: plantClock(a.ts) })), tl);
    tile(tl, t("tile-spool-backlog"), sp.pending, t("unit-readings"), sp.pending > 1000);
    tile(tl, t("tile-spool-size"), (sp.bytes || 0) / 1024, "KiB");
    tile(tl, t("tile-evicted"), sp.evicted, t("unit-readings"), sp.evicted > 0);
    // A spool that cannot be written (full disk) shows at once, with what is held in memory.
    const w = a.spool_writer || {};
    tile(tl, t("tile-spool-disk"), w.disk_full ? t("health-disk-full") : w.write_failing ? t("health-disk-failing") : t("health-disk-ok"), "", !!(w.disk_full || w.write_failing));
    tile(tl, t("tile-held-in-memory"), w.buffered, t("unit-polls"), w.buffered > 0);
    tile(tl, t("tile-dropped"), w.dropped, t("unit-polls"), w.dropped > 0);
    tile(tl, t("tile-published"), a.published, "");
    const rows = el("table", { "data-agent": a.agent }, el("tr", {}, el("th", {}, t("health-device")), el("th", {}, t("health-polls-ok")), el("th", {}, t("health-failed")), el("th", {}, t("health-exceptions")), el("th", {}, t("health-missed")), el("th", {}, t("health-last-error"))));
    for (const [name, d] of Object.entries(a.devices || {})) {
      rows.append(el("tr", {}, el("td", {}, name), el("td", {}, String(d.polls_ok)), el("td", d.polls_failed ? { class: "bad" } : {}, String(d.polls_failed)), el("td", {}, String(d.exceptions)), el("td", {}, String(d.missed_polls)), el("td", {}, d.last_error || "")));
    }
    agents.append(rows);
  }
}

// ---------- frame ----------
let timer = null;
const typing = () => !!(document.activeElement && document.activeElement.matches("form input, form select"));
// One rendering at a time: pages append to #main as their data arrives, so two at once would
// mix; a request meanwhile (hash change, alarm poll) renders once more after.
let rendering = null, renderAgain = false;
async function show() {
  if (rendering) { renderAgain = true; return; }
  rendering = render();
  try { await rendering; } finally {
    rendering = null;
    if (renderAgain) { renderAgain = false; show(); }
  }
}
async function render() {
  const { page, params } = state();
  document.title = "kilowatch · " + titleOf(PAGES[page]);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  const range = params.get("from") ? "custom" : params.get("range") || "7d";
  for (const b of document.querySelectorAll("#range button")) b.classList.toggle("active", b.dataset.range === range);
  const s = span(params);
  document.getElementById("from").value = plantDate(s.from);
  document.getElementById("to").value = plantDate(s.to.getTime() - 1);
  for (const a of document.querySelectorAll("nav a")) {
    const p = new URLSearchParams(params);
    a.href = "#/" + a.dataset.page + (p.toString() ? "?" + p : "");
  }
  const main = document.getElementById("main");
  const status = document.getElementById("status");
  const fresh = el("main", { id: "main" });
  main.replaceWith(fresh);
  status.textContent = t("app-loading");
  computing = false;
  try {
    await PAGES[page].render(s, params);
    status.textContent = t("app-status", { from: plantTime(s.from), to: plantTime(s.to), zone: TZ, clock: plantClock(Date.now()) })
      + (computing ? " · " + t("app-computing") : "");
    document.body.dataset.ready = page;
  } catch (e) {
    status.textContent = t("app-cannot-load", { error: e.message });
    console.warn(e);
  }
  clearTimeout(timer);
  // Live update: the current range slides forward; a custom range stays. Not under the
  // hands of someone typing in a form: it waits until they leave it.
  const later = () => { if (typing()) timer = setTimeout(later, 5e3); else show(); };
  if (!params.get("from") || computing) timer = setTimeout(later, computing ? 10e3 : 60e3);
}
function init() {
  const nav = document.querySelector("nav");
  for (const [id, p] of Object.entries(PAGES)) nav.append(el("a", { "data-page": id, href: "#/" + id }, titleOf(p)));
  const range = document.getElementById("range");
  for (const r of Object.keys(RANGES)) {
    const b = el("button", { type: "button", "data-range": r }, r);
    b.addEventListener("click", () => {
      const { page, params } = state();
      params.delete("from"); params.delete("to"); params.set("range", r);
      setState(page, params);
    });
    range.append(b);
  }
  range.setAttribute("aria-label", t("app-time-range"));
  document.getElementById("lang").setAttribute("aria-label", t("app-language"));
  const from = el("input", { type: "date", id: "from", "aria-label": t("app-from") });
  const to = el("input", { type: "date", id: "to", "aria-label": t("app-to") });
  const custom = () => {
    const { page, params } = state();
    if (!from.value || !to.value || from.value > to.value) return;
    params.delete("range"); params.set("from", from.value); params.set("to", to.value);
    setState(page, params);
  };
  from.addEventListener("change", custom);
  to.addEventListener("change", custom);
  range.append(from, to);
  window.addEventListener("hashchange", show);
  show();
}
// The plant's zone and the page's language first: every date and word on every page depends
// on them. And the whole document:
// pages such as alarms.js register themselves in later scripts, which a slow link may still be
// fetching when the answer comes back (the nav would lack them).
const parsed = new Promise((done) => {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", done, { once: true });
  else done();
});
const zone = api("health")
  .then((h) => { if (h.timezone) TZ = h.timezone; })
  .catch((e) => console.warn("no site time zone, showing the browser's:", e.message));
// The header's switch is in the document: the language waits for it.
const language = parsed.then(loadLanguage).catch((e) => console.warn("no message catalogue:", e.message));
Promise.all([zone, language, parsed]).then(init);
