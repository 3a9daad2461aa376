"use strict";
// Energy baselines in the dashboard (#/baselines?name=…): the saved baselines, a form to save
// one, and a baseline's tracking by month (actual against expected, CUSUM, SEnPI, target).
// Loaded after app.js, whose helpers (api, el, section, tile, chart, fmt, TOKEN, PAGES,
// setState, plantDate, plantMidnight, addDays) it uses.

// Target kinds: [label key, unit].
const TARGET_KINDS = {
  absolute: ["bl-target-absolute", "kWh"],
  intensity: ["bl-target-intensity", "kWh/unit"],
  percent: ["bl-target-percent", "%/yr"],
};
const targetText = (g) => {
  if (!g) return "—";
  const v = g.kind === "absolute" ? g.kwh_per_year : g.kind === "intensity" ? g.kwh_per_unit : g.per_year;
  return `${fmt(v)} ${TARGET_KINDS[g.kind][1]}`;
};

async function sendBaseline(method, path, body) {
  const p = new URLSearchParams();
  if (TOKEN) p.set("token", TOKEN);
  const res = await fetch("../api/v1/" + path + (p.toString() ? "?" + p : ""), {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer.error || "HTTP " + res.status);
  return answer;
}

function baselineTable(list, current) {
  const table = el("table", { class: "baselines" });
  table.append(el("tr", {}, ...[t("bl-col-name"), t("bl-col-asset"), t("bl-col-period"), t("bl-col-model"), "R²", "CV(RMSE)", "NMBE", t("bl-col-target"), t("bl-col-saved")].map((h) => el("th", {}, h))));
  for (const b of list) {
    const link = el("a", { href: "#/baselines?name=" + encodeURIComponent(b.name) }, b.name);
    const row = el("tr", { "data-baseline": b.name },
      el("td", {}, link), el("td", {}, b.asset || b.energy.join(" + ")),
      el("td", {}, `${plantDate(Date.parse(b.from))} .. ${plantDate(Date.parse(b.to) - 1)}`),
      el("td", {}, t("bl-model-text", { form: b.model.form, drivers: b.model.variables.join(", ") || t("bl-no-drivers"), granularity: b.model.granularity })),
      el("td", {}, fmt(b.fit.r2, 3)), el("td", {}, fmt(b.fit.cv_rmse_percent, 1) + " %"),
      el("td", {}, fmt(b.fit.nmbe_percent, 2) + " %"), el("td", {}, targetText(b.target)),
      el("td", {}, `${b.saved_by}, ${plantDate(Date.parse(b.saved_at))}`));
    if (b.name === current) row.classList.add("active");
    table.append(row);
  }
  return table;
}

async function saveForm(sec) {
  const { assets } = await api("enpi");
  const today = plantDate(Date.now());
  const form = el("form", { class: "mv baseline-save" });
  const name = el("input", { name: "name", required: "", size: "16", placeholder: "plant-2025" });
  const asset = el("select", { name: "asset" });
  for (const a of assets) asset.append(el("option", { value: a.id }, a.name || a.id));
  asset.value = (assets.find((a) => a.type === "plant") || assets[0] || {}).id || "";
  const from = el("input", { name: "from", type: "date", value: addDays(today, -60) });
  const to = el("input", { name: "to", type: "date", value: addDays(today, -31) });
  const kind = el("select", { name: "target_kind" }, el("option", { value: "" }, t("bl-target-none")));
  for (const [k, [label]] of Object.entries(TARGET_KINDS)) kind.append(el("option", { value: k }, t(label)));
  const value = el("input", { name: "target_value", type: "number", step: "any", min: "0", size: "8", placeholder: "1.5" });
  const who = el("input", { name: "saved_by", size: "10", value: localStorage.getItem("kilowatch.alarms.who") || "" });
  const out = el("p", { class: "note", role: "status" });
  form.append(el("label", {}, t("bl-col-name"), name), el("label", {}, t("bl-col-asset"), asset),
    el("label", {}, t("bl-from"), from), el("label", {}, t("bl-to"), to),
    el("label", {}, t("bl-col-target"), kind), el("label", {}, t("bl-value"), value),
    el("label", {}, t("bl-by"), who), el("button", { type: "submit" }, t("bl-save")));
  sec.append(form, out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.textContent = t("bl-fitting");
    const body = { name: name.value.trim(), asset: asset.value, from: from.value, to: to.value, saved_by: who.value.trim() || undefined };
    if (kind.value && value.value) body.target = `${kind.value}:${value.value}`;
    try {
      const saved = await sendBaseline("POST", "baselines", body);
      out.textContent = t("bl-saved", { name: saved.name, form: saved.model.form, r2: fmt(saved.fit.r2, 3) });
      setState("baselines", new URLSearchParams({ name: saved.name }));
    } catch (err) {
      out.textContent = t("bl-cannot-save", { error: err.message });
    }
  });
}

function monthStart(m) {
  return plantMidnight(m + "-01").getTime();
}

function trackingView(tr) {
  const u = tr.energy_unit;
  const sec = section(t("bl-tracking-title", { name: tr.baseline.name }), true);
  sec.classList.add("baseline-tracking");
  const tracked = tr.months.filter((m) => !m.baseline);
  const last = tracked[tracked.length - 1];
  const tiles = el("div", { class: "tiles" });
  sec.append(tiles);
  tile(tiles, t("bl-latest-senpi"), last ? last.senpi : null, last ? last.month : "");
  tile(tiles, t("bl-improvement"), last ? last.improvement_percent : null, "%");
  tile(tiles, t("bl-cusum"), last ? last.cusum : null, u, last && last.cusum > 0);
  tile(tiles, t("bl-col-model"), tr.baseline.model.form, "");
  const p = tr.target;
  if (p) {
    const unit = p.unit === "SEnPI" ? "" : p.unit;
    tile(tiles, t("bl-target-year", { year: p.year }), p.target_value, unit);
    tile(tiles, t("bl-to-date"), p.achieved, unit);
    tile(tiles, t("bl-forecast"), p.forecast, unit, p.on_track === false);
    sec.append(el("p", { class: "note target-status" }, p.on_track === true ? t("bl-on-track") : p.on_track === false ? t("bl-off-track") : msg(p.note_message, p.note) || "—"));
  }
  sec.append(el("p", { class: "note" }, t("bl-definition", { definition: t("bl-senpi-definition"), zone: tr.time_zone })));
  const pts = (f) => tr.months.map((m) => [monthStart(m.month), f(m)]);
  chart(section(t("bl-chart-actual")), {
    time: true, y: t("bl-axis-energy", { unit: u }), x: t("bl-axis-month-phases"),
    series: [{ name: t("bl-series-actual", { unit: u }), points: pts((m) => m.actual) }, { name: t("bl-series-expected", { unit: u }), points: pts((m) => m.expected) }],
  });
  chart(section(t("bl-chart-cusum")), {
    time: true, y: `CUSUM (${u})`, zero: true, x: t("bl-axis-month"),
    series: [{ name: `CUSUM (${u})`, points: pts((m) => m.cusum) }],
  });
  const table = el("table", { class: "baseline-months" });
  table.append(el("tr", {}, ...[t("bl-axis-month"), t("bl-phase"), t("bl-series-actual", { unit: u }), t("bl-series-expected", { unit: u }), "SEnPI", t("bl-improvement") + " %", `CUSUM (${u})`, t("bl-yoy") + " %"].map((h) => el("th", {}, h))));
  for (const m of tr.months) {
    table.append(el("tr", { class: m.baseline ? "baseline" : "" },
      el("td", {}, m.month), el("td", {}, m.baseline ? t("bl-phase-baseline") : t("bl-phase-tracked")),
      el("td", {}, fmt(m.actual, 0)), el("td", {}, fmt(m.expected, 0)), el("td", {}, fmt(m.senpi, 3)),
      el("td", {}, fmt(m.improvement_percent, 1)), el("td", {}, fmt(m.cusum, 0)), el("td", {}, fmt(m.yoy_improvement_percent, 1))));
  }
  section(t("bl-by-month"), true).append(table);
  const del = el("button", { type: "button", class: "delete" }, t("bl-delete"));
  del.addEventListener("click", async () => {
    if (!confirm(t("bl-delete-confirm", { name: tr.baseline.name }))) return;
    await sendBaseline("DELETE", "baselines/" + encodeURIComponent(tr.baseline.name));
    setState("baselines", new URLSearchParams());
  });
  sec.append(del);
  if (tr.warnings.length) alerts(section(t("bl-warnings")), tr.warnings.map((w, i) => ["warn", msg((tr.warning_messages || [])[i], w)]));
}

async function baselinesPage(s, params) {
  const { baselines } = await api("baselines");
  // Without a choice, the first baseline's tracking shows.
  const current = params.get("name") || (baselines[0] || {}).name;
  const list = section(t("bl-list-title", { n: baselines.length }), true);
  if (baselines.length) list.append(baselineTable(baselines, current));
  else list.append(el("p", { class: "note" }, t("bl-none")));
  await saveForm(section(t("bl-save-title"), true));
  if (!current) return;
  let tracking;
  try {
    tracking = await api("baselines/" + encodeURIComponent(current));
  } catch (e) {
    section(t("bl-tracking")).append(el("p", { class: "note" }, t("bl-cannot-track", { name: current, error: e.message })));
    return;
  }
  trackingView(tracking);
}
PAGES.baselines = { title: () => t("nav-baselines"), render: baselinesPage };
