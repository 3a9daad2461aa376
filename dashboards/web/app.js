"use strict";
// kilowatch dashboard: plain JavaScript over the gateway's read-only API, no build step.
// State lives in the URL hash (#/page?range=7d or ?from=…&to=…), so a link shows the same view.

const PAGES = {
  plant: { title: "Plant overview", render: plantPage },
  air: { title: "Compressor room", render: airPage },
  chillers: { title: "Chillers", render: chillerPage },
  savings: { title: "Savings", render: savingsPage },
  health: { title: "Device health", render: healthPage },
};
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
  const key = JSON.stringify(opts) + TZ;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat([], { timeZone: TZ, ...opts }));
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
  const r = await api("enpi", { asset, from: s.from.toISOString(), to: s.to.toISOString(), step: step || stepFor(s.hours) });
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
  if (digits === undefined && Number.isInteger(v)) return v.toLocaleString();
  if (digits !== undefined) return v.toFixed(digits);
  const a = Math.abs(v);
  return a >= 1000 ? v.toLocaleString(undefined, { maximumFractionDigits: 0 }) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
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
    add("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data in this range");
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
  add("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, opts.x || (opts.time ? "time" : ""));
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
  if (!items.length) ul.append(el("li", { class: "ok" }, "nothing to report"));
  for (const [level, text] of items) ul.append(el("li", { class: level }, text));
  parent.append(ul);
}
function missingReasons(report) {
  const counts = new Map();
  for (const r of report.rows) for (const [k, why] of Object.entries(r.missing || {})) {
    if (/billed per month|configured|no production in this interval/.test(why)) continue;
    counts.set(k + ": " + why, (counts.get(k + ": " + why) || 0) + 1);
  }
  return [...counts].slice(0, 6).map(([t, n]) => ["warn", `${t} (${n} intervals)`]);
}

// ---------- pages ----------
async function plantPage(s) {
  const [plants, latest] = await Promise.all([assetsOf("plant"), api("latest")]);
  if (!plants.length) { section("Plant").append(el("p", { class: "note" }, "No plant asset in the site file ([[assets]] type = \"plant\").")); return; }
  const id = plants[0].id;
  const midnight = plantMidnight(plantDate(Date.now()));
  const [today, range, daily] = await Promise.all([
    enpi(id, { from: midnight, to: new Date(), hours: 24 }, "1d"),
    enpi(id, s, s.hours <= 72 ? "15m" : "1h"),
    enpi(id, s, "1d"),
  ]);
  const power = latest.readings.filter((r) => r.quantity === "active_power" && r.device === "incomer");
  const t = today.summary.values;
  const tiles = el("div", { class: "tiles" });
  const sec = section(plants[0].name || id, true);
  sec.append(tiles);
  tile(tiles, "live power", power.length ? power[0].value : null, "kW");
  tile(tiles, "energy today", t.energy_kwh, "kWh");
  tile(tiles, "energy cost today", t.energy_cost, unitOf(today, "energy_cost"));
  tile(tiles, "15-min demand today", t.demand_kw, "kW", t.exceedances > 0);
  tile(tiles, "contract", t.contract_kw, "kW");
  tile(tiles, "power factor", t.power_factor, "");
  tile(tiles, "CO2e today", t.co2e_kg, "kg");
  tile(tiles, "SEC today", t.sec, unitOf(today, "sec"));
  const demand = seriesOf(range, "demand_kw");
  const contract = range.summary.values.contract_kw;
  chart(section("15-minute demand against contract"), {
    time: true, y: "demand (kW)", title: "demand",
    series: [{ name: "demand kW", points: demand }],
    hlines: contract ? [{ y: contract, label: `contract ${fmt(contract)} kW` }] : [],
  });
  chart(section("Energy and specific energy per day"), {
    time: true, y: "energy (kWh)", title: "daily energy",
    series: [{ name: "kWh per day", points: seriesOf(daily, "energy_kwh") }],
  });
  chart(section("Power factor"), {
    time: true, y: "power factor", title: "power factor",
    series: [{ name: "PF", points: seriesOf(range, "power_factor") }],
  });
  const items = [];
  const ex = range.rows.filter((r) => r.values.exceedances > 0).length;
  if (ex) items.push(["bad", `${ex} intervals with demand over the contract capacity`]);
  const stale = latest.readings.filter((r) => Date.now() - Date.parse(r.ts) > 5 * 60e3);
  const offline = [...new Set(stale.map((r) => r.device))];
  if (offline.length) items.push(["bad", `devices offline (no reading for 5 min): ${offline.join(", ")}`]);
  items.push(...missingReasons(range));
  alerts(section("Alerts"), items);
}

async function airPage(s) {
  const rooms = await assetsOf("compressor");
  if (!rooms.length) { section("Compressor room").append(el("p", { class: "note" }, "No compressor asset in the site file.")); return; }
  for (const room of rooms) {
    const [r, d] = await Promise.all([enpi(room.id, s), enpi(room.id, s, "1d")]);
    const v = r.summary.values;
    const sec = section(room.name || room.id, true);
    const tiles = el("div", { class: "tiles" });
    sec.append(tiles);
    tile(tiles, "specific power", v.specific_power, unitOf(r, "specific_power"));
    tile(tiles, "loaded", v.loaded_pct, "%");
    tile(tiles, "leakage", v.leakage_pct, "%", v.leakage_pct > 20);
    tile(tiles, "pressure band", v.pressure_band, "bar");
    tile(tiles, "energy", v.energy_kwh, "kWh");
    chart(section("Specific power"), { time: true, y: "specific power (" + unitOf(r, "specific_power") + ")", series: [{ name: "specific power", points: seriesOf(r, "specific_power") }] });
    chart(section("Loaded fraction"), { time: true, y: "loaded (%)", series: [{ name: "loaded %", points: seriesOf(r, "loaded_pct") }] });
    chart(section("Pressure band"), {
      time: true, y: "pressure (bar)",
      series: [
        { name: "max", points: seriesOf(r, "pressure_max") },
        { name: "average", points: seriesOf(r, "pressure_avg") },
        { name: "min", points: seriesOf(r, "pressure_min") },
      ],
    });
    chart(section("Leakage trend (no-production periods, per day)"), { time: true, y: "leakage (%)", series: [{ name: "leakage %", points: seriesOf(d, "leakage_pct") }] });
  }
}

async function chillerPage(s) {
  const chillers = await assetsOf("chiller");
  if (!chillers.length) { section("Chillers").append(el("p", { class: "note" }, "No chiller asset in the site file.")); return; }
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
    tile(tiles, "COP", v.cop, "");
    tile(tiles, "cooling load", v.cooling_tr, "TR");
    tile(tiles, "ΔT", v.delta_t, "°C");
    tile(tiles, "energy", v.energy_kwh, "kWh");
    chart(section("Efficiency over time"), { time: true, y: "kW/TR", series: [{ name: "kW/TR", points: seriesOf(r, "kw_per_tr") }] });
    chart(section("Cooling load and ΔT"), {
      time: true, y: "TR / °C",
      series: [{ name: "cooling load TR", points: seriesOf(r, "cooling_tr") }, { name: "ΔT °C", points: seriesOf(r, "delta_t") }],
    });
    const scatter = seriesOf(r, "kw_per_tr").filter(([t]) => temp.has(t)).map(([t, k]) => [temp.get(t), k]);
    chart(section("kW/TR against outdoor temperature"), {
      x: "outdoor temperature (°C)", y: "kW/TR", series: [{ name: "kW/TR per interval", points: scatter, dots: true }],
    });
  }
}

// A normal tail is never exactly 0 or 1: the extremes show as bounds.
const confidence = (c) => (c > 0.999 ? "> 99.9 %" : c < 0.001 ? "< 0.1 %" : (100 * c).toFixed(1) + " %");

// The site's M&V plans (`[[mv_plans]]`): each contract year's savings against the guarantee.
async function plansTable() {
  const { plans } = await api("mv/plans");
  if (!plans.length) return;
  const sec = section("M&V plans / 節能績效保證", true);
  const head = ["plan 計畫", "boundary 邊界", "guarantee 保證節能", "contract year 合約年度", "savings 節能量 (kWh)", "guaranteed 保證 (kWh)", "shortfall 差額 (kWh)", "confidence 信心水準", "status 狀態", ""];
  const table = el("table", { class: "plans" }, el("tr", {}, ...head.map((h) => el("th", {}, h))));
  const num = (v) => (v == null ? "—" : Math.round(v).toLocaleString());
  for (const p of plans) {
    const g = p.guarantee.percent != null ? `${p.guarantee.percent} %` : `${num(p.guarantee.kwh_per_year)} kWh/yr`;
    const link = el("a", { href: `../api/v1/mv/plans/${encodeURIComponent(p.id)}?` + new URLSearchParams({ format: "html", ...(TOKEN ? { token: TOKEN } : {}) }), target: "_blank" }, "report 報告");
    const years = p.years.filter((y) => y.through);
    const rows = years.length ? years : [null];
    for (const y of rows) {
      const status = y ? y.status : p.status;
      table.append(el("tr", { "data-plan": p.id },
        el("td", {}, p.name || p.id), el("td", {}, p.boundary), el("td", {}, g),
        el("td", {}, y ? `${y.year} (${y.complete ? y.from + "–" + y.to : "to " + y.through})` : "—"),
        el("td", {}, num(y && y.avoided_kwh)), el("td", {}, num(y && y.guarantee_kwh)), el("td", {}, num(y && y.shortfall_kwh)),
        el("td", {}, y && y.confidence != null ? confidence(y.confidence) : "—"),
        el("td", { class: ["shortfall", "behind", "not established"].includes(status) ? "bad" : "", title: y ? y.explanation : p.explanation }, status),
        el("td", {}, link)));
    }
  }
  sec.append(table);
  for (const p of plans) sec.append(el("p", { class: "note" }, `${p.name || p.id}: ${p.explanation}`));
}

async function savingsPage(s, params) {
  await plansTable();
  const list = await api("enpi");
  const sec = section("Savings verification", true);
  const today = plantDate(Date.now());
  const back = (days) => addDays(today, -days);
  const form = el("form", { class: "mv" });
  const asset = el("select", { name: "asset" });
  for (const a of list.assets) asset.append(el("option", { value: a.id }, a.name || a.id));
  asset.value = params.get("asset") || (list.assets.find((a) => a.type === "plant") || list.assets[0] || {}).id || "";
  const baseline = el("input", { name: "baseline", value: params.get("baseline") || `${back(20)}..${back(11)}`, size: "24" });
  const reporting = el("input", { name: "reporting", value: params.get("reporting") || `${back(10)}..${back(1)}`, size: "24" });
  form.append(el("label", {}, "asset", asset), el("label", {}, "baseline FROM..TO", baseline), el("label", {}, "reporting FROM..TO", reporting), el("button", { type: "submit" }, "verify"));
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
    sec.append(el("p", { class: "note" }, "Cannot verify: " + e.message));
    return;
  }
  const s2 = r.savings;
  sec.append(el("div", { class: "verdict" + (s2.verified ? " ok" : "") }, s2.verdict));
  const tiles = el("div", { class: "tiles" });
  sec.append(tiles);
  tile(tiles, "avoided energy", s2.avoided, r.energy_unit);
  tile(tiles, "± at 90 %", s2.uncertainty_90, r.energy_unit);
  tile(tiles, "savings", s2.percent, "%");
  tile(tiles, "model", r.model.form, "");
  tile(tiles, "R²", r.model.r2, "");
  const link = el("a", { href: "../api/v1/mv?" + new URLSearchParams({ ...q, format: "html", ...(TOKEN ? { token: TOKEN } : {}) }), target: "_blank" }, "full report (HTML) with the model's evidence");
  sec.append(el("p", {}, link));
  const pts = (f) => r.series.map((p) => [Date.parse(p.t), f(p)]);
  const start = r.series.find((p) => p.reporting);
  chart(section("Actual against the (adjusted) baseline"), {
    time: true, y: `energy per ${r.granularity} (${r.energy_unit})`,
    series: [{ name: "actual", points: pts((p) => p.actual) }, { name: "baseline / adjusted", points: pts((p) => p.modelled) }],
  });
  chart(section("CUSUM of actual − modelled"), {
    time: true, y: `CUSUM (${r.energy_unit})`, zero: true,
    series: [{ name: "CUSUM", points: pts((p) => p.cusum) }],
  });
  if (start) sec.append(el("p", { class: "note" }, "Reporting period starts " + plantDate(Date.parse(start.t))));
  if (r.warnings.length) alerts(section("Warnings"), r.warnings.map((w) => ["warn", w]));
}

async function healthPage() {
  const [latest, health] = await Promise.all([api("latest"), api("health")]);
  const sec = section("Gateway", true);
  const tiles = el("div", { class: "tiles" });
  sec.append(tiles);
  tile(tiles, "MQTT", health.ingest.mqtt_connected ? "connected" : "disconnected", "", !health.ingest.mqtt_connected);
  tile(tiles, "messages", health.ingest.messages, "");
  tile(tiles, "rejected messages", health.ingest.rejected, "", health.ingest.rejected > 0);
  tile(tiles, "store errors", health.ingest.store_errors, "", health.ingest.store_errors > 0);
  tile(tiles, "dead letters", health.dead_letters, "", health.dead_letters > 0);
  tile(tiles, "rollups pending", health.rollups_pending, "");
  tile(tiles, "InfluxDB batches pending", health.influx.pending_batches, "", health.influx.pending_batches > 0);
  const sq = health.ingest.sequence;
  tile(tiles, "polls missing now", sq.missing, "", sq.missing > 0);
  tile(tiles, "polls lost", sq.lost, "", sq.lost > 0);
  tile(tiles, "polls repaired", sq.repaired, "");
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
  const table = el("table", {}, el("tr", {}, el("th", {}, "device"), el("th", {}, "last reading"), el("th", {}, "age (s)"), el("th", {}, "quantities"), el("th", {}, "not good"),
    el("th", {}, "last seq"), el("th", {}, "gaps"), el("th", {}, "missing now"), el("th", {}, "repaired"), el("th", {}, "lost")));
  for (const [name, d] of devices) {
    const age = (Date.now() - Date.parse(d.newest)) / 1000;
    const ageCell = el("td", age > 300 ? { class: "bad" } : {}, fmt(age, 0));
    const s = seqs.get(name) || {};
    const num = (v, bad) => el("td", bad ? { class: "bad" } : {}, v === undefined ? "" : String(v));
    table.append(el("tr", { "data-device": name }, el("td", {}, name), el("td", {}, plantTime(d.newest)), ageCell, el("td", {}, String(d.n)), el("td", d.bad ? { class: "bad" } : {}, String(d.bad)),
      num(s.high_seq), num(s.gaps_detected), num(s.missing, s.missing > 0), num(s.repaired), num(s.lost, s.lost > 0)));
  }
  const devs = section("Devices", true);
  devs.append(table);
  // Each agent's latest health message: its spool backlog and per-device poll errors.
  const agents = section("Agents", true);
  if (!health.agents.length) agents.append(el("p", { class: "note" }, "No agent health message received yet (agents publish one every 30 s)."));
  for (const a of health.agents) {
    const sp = a.spool || {};
    const t = el("div", { class: "tiles" });
    agents.append(el("h3", {}, `agent ${a.agent} · ${plantClock(a.ts)}`), t);
    tile(t, "spool backlog", sp.pending, "readings", sp.pending > 1000);
    tile(t, "spool size", (sp.bytes || 0) / 1024, "KiB");
    tile(t, "evicted (disk budget)", sp.evicted, "readings", sp.evicted > 0);
    // A spool that cannot be written (full disk) shows at once, with what is held in memory.
    const w = a.spool_writer || {};
    tile(t, "spool disk", w.disk_full ? "FULL" : w.write_failing ? "failing" : "ok", "", !!(w.disk_full || w.write_failing));
    tile(t, "held in memory", w.buffered, "polls", w.buffered > 0);
    tile(t, "dropped (memory full)", w.dropped, "polls", w.dropped > 0);
    tile(t, "published", a.published, "");
    const rows = el("table", { "data-agent": a.agent }, el("tr", {}, el("th", {}, "device"), el("th", {}, "polls ok"), el("th", {}, "failed"), el("th", {}, "exceptions"), el("th", {}, "missed"), el("th", {}, "last error")));
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
  document.title = "kilowatch · " + PAGES[page].title;
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
  status.textContent = "loading…";
  computing = false;
  try {
    await PAGES[page].render(s, params);
    status.textContent = `${plantTime(s.from)} – ${plantTime(s.to)} (${TZ}) · updated ${plantClock(Date.now())}`
      + (computing ? " · indicators still being computed 計算中, reloading" : "");
    document.body.dataset.ready = page;
  } catch (e) {
    status.textContent = "cannot load: " + e.message;
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
  for (const [id, p] of Object.entries(PAGES)) nav.append(el("a", { "data-page": id, href: "#/" + id }, p.title));
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
  const from = el("input", { type: "date", id: "from", "aria-label": "from" });
  const to = el("input", { type: "date", id: "to", "aria-label": "to" });
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
// The plant's zone first: every date on every page depends on it. And the whole document:
// pages such as alarms.js register themselves in later scripts, which a slow link may still be
// fetching when the answer comes back (the nav would lack them).
const parsed = new Promise((done) => {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", done, { once: true });
  else done();
});
const zone = api("health")
  .then((h) => { if (h.timezone) TZ = h.timezone; })
  .catch((e) => console.warn("no site time zone, showing the browser's:", e.message));
Promise.all([zone, parsed]).then(init);
