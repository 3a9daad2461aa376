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
  const o = await api("contract/optimise", { to: s.to.toISOString() });
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
}
PAGES.contract = { title: () => t("nav-contract"), render: contractPage };
