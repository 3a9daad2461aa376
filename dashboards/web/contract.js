"use strict";
// Contract capacity (契約容量) in the dashboard (#/contract): the capacities per contract kind
// that minimise the year's basic plus over-contract charges (GET /api/v1/contract/optimise),
// the cost curve of each capacity around the optimum, the months that would have exceeded and
// the saving against the site's contracts. Loaded after app.js (api, el, section, tile, chart,
// alerts, fmt, COLORS, PAGES).

const CT_KINDS = ["regular", "half_peak", "saturday_half_peak", "off_peak"];
// Each kind's name, the keys spelt out for the catalogue check.
const ctKind = (k) => ({
  regular: () => t("ct-kind-regular"),
  half_peak: () => t("ct-kind-half_peak"),
  saturday_half_peak: () => t("ct-kind-saturday_half_peak"),
  off_peak: () => t("ct-kind-off_peak"),
}[k] || (() => k))();

function contractTable(o) {
  const table = el("table", { class: "contract" });
  table.append(el("tr", {}, ...[t("ct-col-kind"), t("ct-col-current"), t("ct-col-optimal")].map((h) => el("th", {}, h))));
  for (const k of CT_KINDS) {
    const cur = o.current ? fmt(o.current.capacities[k], 1) : "–";
    table.append(el("tr", { "data-kind": k }, el("td", {}, ctKind(k)), el("td", {}, cur), el("td", {}, fmt(o.best.capacities[k], 1))));
  }
  for (const [key, field] of [["ct-basic", "basic"], ["ct-over", "over_contract"], ["ct-total", "total"]]) {
    table.append(el("tr", {}, el("td", {}, t(key)), el("td", {}, o.current ? fmt(o.current[field], 0) : "–"), el("td", {}, fmt(o.best[field], 0))));
  }
  return table;
}

async function contractPage(s) {
  const o = await api("contract/optimise", { to: s.to.toISOString(), allow_empty: "true" });
  if (o.no_months) {
    // A young store (the demo's weeks of history) has no whole month yet: say so, and show
    // the demand and demand-response sections, which need none.
    section(t("ct-title"), true).append(el("p", { class: "no-months" }, t("ct-no-months")));
    await demandSections(s);
    await drSections();
    return;
  }
  const tiles = el("div", { class: "tiles" });
  section(t("ct-title"), true).append(tiles);
  tile(tiles, t("ct-months"), o.months.length, "");
  tile(tiles, t("ct-best-total"), fmt(o.best.total, 0), o.currency);
  if (o.saving !== null && o.saving !== undefined) tile(tiles, t("ct-saving"), fmt(o.saving, 0), o.currency);
  section(t("ct-capacities"), true).append(contractTable(o));
  const curves = section(t("ct-curve"), true);
  const series = o.curves.map((c, i) => ({ name: ctKind(c.kind), points: c.points, color: COLORS[i % COLORS.length] }));
  const optimum = o.curves.map((c) => [o.best.capacities[c.kind], o.best.total]);
  series.push({ name: t("ct-optimum"), points: optimum, dots: true, color: "#b3261e" });
  const svg = chart(curves, { series, x: t("ct-axis-capacity"), y: t("ct-axis-cost", { currency: o.currency }), title: t("ct-curve") });
  svg.classList.add("contract-curve");
  curves.append(el("p", { class: "note" }, t("ct-curve-note")));
  const ex = section(t("ct-exceeded"), true);
  if (!o.exceeded.length) ex.append(el("p", {}, t("ct-none-exceeded")));
  else {
    const table = el("table", { class: "exceeded" });
    table.append(el("tr", {}, ...[t("ct-col-month"), t("ct-col-kind"), t("ct-col-demand"), t("ct-col-allowed"), t("ct-col-charge")].map((h) => el("th", {}, h))));
    for (const e of o.exceeded) {
      table.append(el("tr", {}, el("td", {}, e.month), el("td", {}, ctKind(e.kind)), el("td", {}, fmt(e.demand_kw, 1)), el("td", {}, fmt(e.allowed_kw, 1)), el("td", {}, fmt(e.charge, 0))));
    }
    ex.append(table);
  }
  await demandSections(s);
  await drSections();
}

// Demand management (需量抑低) over the selected range: the profile by period and day type
// (GET /api/v1/demand/profile), the top events with each sub-meter's share
// (GET /api/v1/demand/events).
const DM_DAY = (d) => ({
  weekday: () => t("dm-day-weekday"),
  saturday: () => t("dm-day-saturday"),
  sunday_holiday: () => t("dm-day-sunday_holiday"),
}[d] || (() => d))();

// A tariff period's name (the keys spelt out for the catalogue check).
const dmPeriod = (p) => ({
  peak: () => t("dm-period-peak"),
  half_peak: () => t("dm-period-half_peak"),
  saturday_half_peak: () => t("dm-period-saturday_half_peak"),
  off_peak: () => t("dm-period-off_peak"),
}[p] || (() => p))();

async function demandSections(s) {
  const range = { from: s.from.toISOString(), to: s.to.toISOString() };
  const [p, events] = await Promise.all([api("demand/profile", range), api("demand/events", range)]);
  const prof = section(t("dm-profile"), true);
  // One line per (day type, period): the highest demand at each quarter-hour, x in hours.
  const series = p.groups.map((g, i) => ({
    name: `${DM_DAY(g.day_type)} · ${dmPeriod(g.period)}`,
    points: g.slots.map((x) => [Number(x.time.slice(0, 2)) + Number(x.time.slice(3)) / 60, x.max_kw]),
    color: COLORS[i % COLORS.length],
  }));
  if (!series.length) prof.append(el("p", {}, t("dm-none")));
  else chart(prof, { series, x: t("dm-axis-hour"), y: t("dm-axis-kw"), title: t("dm-profile") }).classList.add("demand-profile");
  const ev = section(t("dm-events"), true);
  if (!events.length) {
    ev.append(el("p", {}, t("dm-none")));
    return;
  }
  const table = el("table", { class: "demand-events" });
  table.append(el("tr", {}, ...[t("dm-col-start"), t("dm-col-period"), t("dm-col-demand"), t("dm-col-shares")].map((h) => el("th", {}, h))));
  for (const e of events) {
    const parts = e.meters
      .filter((m) => m.kw !== null)
      .map((m) => `${m.name || m.id} ${fmt(m.kw, 1)} kW (${fmt(m.share * 100, 0)} %)`);
    parts.push(`${t("dm-unmetered")} ${fmt(e.unmetered_kw, 1)} kW (${fmt(e.unmetered_share * 100, 0)} %)`);
    table.append(el("tr", {}, el("td", {}, e.start.replace("T", " ")), el("td", {}, `${DM_DAY(e.day_type)} · ${dmPeriod(e.period)}`), el("td", {}, fmt(e.demand_kw, 1)), el("td", {}, parts.join("; "))));
  }
  ev.append(table);
}
// Demand-response verification (需量反應): every event with its verdict
// (GET /api/v1/demand-response/events), and one event's baseline, actual demand and reduction
// per quarter-hour, chosen in the table (the latest by default).
const drVerdict = (v) => ({
  pass: () => t("dr-verdict-pass"),
  fail: () => t("dr-verdict-fail"),
  insufficient_data: () => t("dr-verdict-insufficient_data"),
}[v] || (() => v))();

function drReason(e) {
  if (e.verdict !== "insufficient_data") return "";
  if (e.baseline_days.length < 5) return t("dr-reason-days", { found: e.baseline_days.length });
  if (e.missing_quarters.length) return t("dr-reason-quarters", { quarters: e.missing_quarters.join(", ") });
  return "";
}

function drDetail(box, e) {
  box.replaceChildren();
  box.append(el("h3", {}, t("dr-detail", { id: e.id, date: e.date, start: e.start, end: e.end })));
  box.append(el("p", { class: "note" }, t("dr-baseline-days", { days: e.baseline_days.join(", ") || "–" })));
  if (e.adjustment === "additive") box.append(el("p", { class: "note" }, t("dr-adjusted", { kw: e.adjustment_kw === null ? "–" : fmt(e.adjustment_kw, 1) })));
  const hour = (q) => Number(q.start.slice(0, 2)) + Number(q.start.slice(3)) / 60;
  const line = (field) => e.quarters.filter((q) => q[field] !== null).map((q) => [hour(q), q[field]]);
  const series = [
    { name: t("dr-cbl"), points: line("cbl_kw"), color: COLORS[0] },
    { name: t("dr-actual"), points: line("actual_kw"), color: COLORS[1] },
  ].filter((x) => x.points.length);
  if (series.length) chart(box, { series, x: t("dm-axis-hour"), y: t("dm-axis-kw"), title: t("dr-detail", { id: e.id, date: e.date, start: e.start, end: e.end }) }).classList.add("dr-chart");
  const table = el("table", { class: "dr-quarters" });
  table.append(el("tr", {}, ...[t("dm-col-start"), t("dr-cbl"), t("dr-actual"), t("dr-reduction"), t("dr-col-met")].map((h) => el("th", {}, h))));
  const n = (v) => (v === null ? "–" : fmt(v, 1));
  for (const q of e.quarters) {
    const met = q.met === null ? "–" : q.met ? t("dr-yes") : t("dr-no");
    table.append(el("tr", {}, el("td", {}, q.start), el("td", {}, n(q.cbl_kw)), el("td", {}, n(q.actual_kw)), el("td", {}, n(q.reduction_kw)), el("td", {}, met)));
  }
  box.append(table);
}

async function drSections() {
  const { events } = await api("demand-response/events");
  const sec = section(t("dr-title"), true);
  sec.append(el("p", { class: "note" }, t("dr-rule-note")));
  if (!events.length) {
    sec.append(el("p", {}, t("dr-none")));
    return;
  }
  const table = el("table", { class: "dr-events" });
  const cols = ["dr-col-id", "dr-col-date", "dr-col-window", "dr-col-committed", "dr-col-baseline", "dr-col-event-max", "dr-col-reduction", "dr-col-delivered", "dr-col-met-share", "dr-col-verdict"];
  table.append(el("tr", {}, ...cols.map((k) => el("th", {}, t(k)))));
  const detail = el("div", { class: "dr-detail" });
  const n = (v, d) => (v === null ? "–" : fmt(v, d));
  for (const e of events) {
    const verdict = drVerdict(e.verdict) + (drReason(e) ? ` (${drReason(e)})` : "");
    const row = el("tr", { "data-id": e.id, class: "dr-" + e.verdict },
      el("td", {}, e.id), el("td", {}, e.date), el("td", {}, `${e.start}–${e.end}`), el("td", {}, fmt(e.committed_kw, 1)),
      el("td", {}, n(e.baseline_kw, 1)), el("td", {}, n(e.event_max_kw, 1)), el("td", {}, n(e.reduction_kw, 1)),
      el("td", {}, n(e.delivered_kwh, 2)),
      el("td", {}, e.fraction_met === null ? "–" : fmt(e.fraction_met * 100, 0) + " %"), el("td", {}, verdict));
    row.addEventListener("click", () => drDetail(detail, e));
    table.append(row);
  }
  sec.append(table, detail);
  drDetail(detail, events[events.length - 1]);
}
PAGES.contract = { title: () => t("nav-contract"), render: contractPage };
