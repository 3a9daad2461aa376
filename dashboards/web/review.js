"use strict";
// The energy review in the dashboard (#/review): the uses of the meter tree over the range as a
// Pareto chart (energy per use, cumulative share), the table with the significant energy uses
// (重大能源使用) highlighted, and the notes. Loaded after app.js, whose helpers (api, el,
// section, alerts, fmt, ticks, COLORS, PAGES) it uses.

// Bars of energy per use (left axis, kWh) and the cumulative share (right axis, %), with the
// rule's cumulative line: a chart of its own, as chart() draws lines over time.
function paretoChart(parent, r) {
  const W = 640, H = 300, L = 70, R = 46, T = 26, B = 86;
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart pareto");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("rv-aria"));
  svg.dataset.points = String(r.uses.length);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  parent.append(svg);
  if (!r.uses.length) {
    add("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, t("rv-no-data"));
    return svg;
  }
  // A negative remainder (children over their parent) still shows, below the axis.
  const y0 = Math.min(0, ...r.uses.map((u) => u.kwh));
  const y1 = Math.max(1e-9, ...r.uses.map((u) => u.kwh)) * 1.06;
  const slot = (W - L - R) / r.uses.length;
  const px = (i) => L + slot * (i + 0.5);
  const py = (v) => H - B - ((v - y0) / (y1 - y0)) * (H - T - B);
  const pc = (p) => H - B - (Math.max(0, Math.min(p, 110)) / 110) * (H - T - B);
  for (const v of ticks(y0, y1, 5)) {
    add("line", { x1: L, x2: W - R, y1: py(v), y2: py(v), stroke: "#eee" });
    add("text", { x: L - 5, y: py(v) + 4, "text-anchor": "end" }, fmt(v));
  }
  for (const p of [0, 20, 40, 60, 80, 100]) add("text", { x: W - R + 5, y: pc(p) + 4 }, String(p));
  const [bar, seu, line] = [COLORS[0], COLORS[1], COLORS[3]];
  r.uses.forEach((u, i) => {
    const top = py(Math.max(0, u.kwh)), base = py(Math.min(0, u.kwh));
    add("rect", {
      x: px(i) - slot * 0.35, y: top, width: slot * 0.7, height: Math.max(0.5, base - top),
      fill: u.significant ? seu : bar, "fill-opacity": u.kind === "unmetered" ? 0.45 : 1,
      "data-use": u.id,
    }).append(Object.assign(document.createElementNS(svgNS, "title"), { textContent: t("rv-bar-title", { id: u.id, kwh: fmt(u.kwh), percent: fmt(u.percent, 1) }) }));
    const label = u.id.length > 16 ? u.id.slice(0, 15) + "…" : u.id;
    add("text", { x: px(i), y: H - B + 12, "text-anchor": "end", transform: `rotate(-35 ${px(i)} ${H - B + 12})`, class: "xtick" }, label);
  });
  add("path", {
    d: r.uses.map((u, i) => (i ? "L" : "M") + px(i).toFixed(1) + "," + pc(u.cumulative_percent).toFixed(1)).join(""),
    fill: "none", stroke: line, "stroke-width": 1.6,
  });
  for (const [i, u] of r.uses.entries()) add("circle", { cx: px(i), cy: pc(u.cumulative_percent), r: 2.6, fill: line });
  const rule = r.rule.cumulative_percent;
  add("line", { x1: L, x2: W - R, y1: pc(rule), y2: pc(rule), stroke: line, "stroke-dasharray": "6 4" });
  add("text", { x: W - R - 4, y: pc(rule) - 4, "text-anchor": "end", fill: line }, t("rv-rule-line", { percent: fmt(rule) }));
  add("line", { x1: L, x2: L, y1: T, y2: H - B, stroke: "#333" });
  add("line", { x1: W - R, x2: W - R, y1: T, y2: H - B, stroke: "#333" });
  add("line", { x1: L, x2: W - R, y1: py(0), y2: py(0), stroke: "#333" });
  const mid = (T + H - B) / 2;
  add("text", { x: 12, y: mid, transform: `rotate(-90 12 ${mid})`, "text-anchor": "middle" }, t("rv-axis-energy", { unit: r.unit }));
  add("text", { x: W - 8, y: mid, transform: `rotate(90 ${W - 8} ${mid})`, "text-anchor": "middle" }, t("rv-axis-cumulative"));
  [[t("rv-legend-energy"), bar], [t("rv-legend-significant"), seu], [t("rv-legend-cumulative"), line]].forEach(([name, color], i) => {
    const lx = L + 8 + i * 170;
    add("rect", { x: lx, y: 8, width: 12, height: 4, fill: color });
    add("text", { x: lx + 16, y: 13 }, name);
  });
  return svg;
}

function reviewTable(r) {
  const table = el("table", { class: "review" });
  table.append(el("tr", {}, ...[t("rv-col-rank"), t("rv-col-use"), "kWh", t("rv-col-percent"), t("rv-col-cumulative"), t("rv-col-significant"), t("rv-col-drivers"), t("rv-col-enpis")].map((h) => el("th", {}, h))));
  for (const u of r.uses) {
    const what = u.kind === "unmetered" ? t("rv-unmetered", { parent: u.parent }) : u.id;
    // The asset's indicators folded: a chiller has fifteen.
    const enpis = u.enpis.length
      ? el("details", {}, el("summary", {}, `${u.asset}: ${u.enpis.length}`), u.enpis.join(", "))
      : "";
    const row = el("tr", { "data-use": u.id, class: u.significant ? "seu" : "" },
      el("td", {}, String(u.rank)), el("td", u.name ? { title: u.name } : {}, what), el("td", {}, fmt(u.kwh, 1)),
      el("td", {}, fmt(u.percent, 1)), el("td", {}, fmt(u.cumulative_percent, 1)),
      el("td", {}, u.significant ? t("rv-seu-yes") : ""), el("td", {}, u.drivers.join(", ")),
      el("td", {}, enpis));
    table.append(row);
  }
  return table;
}

async function reviewPage(s) {
  const r = await api("review", { from: s.from.toISOString(), to: s.to.toISOString() });
  const seus = r.uses.filter((u) => u.significant);
  const tiles = el("div", { class: "tiles" });
  section(t("rv-title"), true).append(tiles);
  tile(tiles, t("rv-total"), r.total_kwh, r.unit);
  tile(tiles, t("rv-significant-uses"), seus.length, "");
  tile(tiles, t("rv-significant-share"), fmt(seus.reduce((a, u) => a + u.percent, 0), 1), "%");
  const rule = t("rv-rule", { cumulative: fmt(r.rule.cumulative_percent), min: fmt(r.rule.min_percent) });
  const pareto = section(t("rv-pareto"), true);
  paretoChart(pareto, r);
  pareto.append(el("p", { class: "note" }, rule));
  section(t("rv-uses"), true).append(reviewTable(r));
  alerts(section(t("rv-notes"), true), (r.note_messages || []).map((n, i) => ["warn", msg(n, r.notes[i])]));
}
PAGES.review = { title: () => t("nav-review"), render: reviewPage };
