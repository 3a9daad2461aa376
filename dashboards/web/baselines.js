"use strict";
// Energy baselines in the dashboard (#/baselines?name=…): the saved baselines, a form to save
// one, and a baseline's tracking by month (actual against expected, CUSUM, SEnPI, target).
// Loaded after app.js, whose helpers (api, el, section, tile, chart, fmt, TOKEN, PAGES,
// setState, plantDate, plantMidnight, addDays) it uses.

const TARGET_KINDS = {
  absolute: ["kWh per year 年用電量", "kWh"],
  intensity: ["kWh per unit (SEC) 單位產品能耗", "kWh/unit"],
  percent: ["% a year 年改善率", "%/yr"],
};
const targetText = (t) => {
  if (!t) return "—";
  const v = t.kind === "absolute" ? t.kwh_per_year : t.kind === "intensity" ? t.kwh_per_unit : t.per_year;
  return `${fmt(v)} ${TARGET_KINDS[t.kind][1]}`;
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
  const t = el("table", { class: "baselines" });
  t.append(el("tr", {}, ...["name 名稱", "asset 設備", "period 期間", "model 模型", "R²", "CV(RMSE)", "NMBE", "target 目標", "saved 儲存"].map((h) => el("th", {}, h))));
  for (const b of list) {
    const link = el("a", { href: "#/baselines?name=" + encodeURIComponent(b.name) }, b.name);
    const row = el("tr", { "data-baseline": b.name },
      el("td", {}, link), el("td", {}, b.asset || b.energy.join(" + ")),
      el("td", {}, `${plantDate(Date.parse(b.from))} .. ${plantDate(Date.parse(b.to) - 1)}`),
      el("td", {}, `${b.model.form} (${b.model.variables.join(", ") || "no drivers"}, per ${b.model.granularity})`),
      el("td", {}, fmt(b.fit.r2, 3)), el("td", {}, fmt(b.fit.cv_rmse_percent, 1) + " %"),
      el("td", {}, fmt(b.fit.nmbe_percent, 2) + " %"), el("td", {}, targetText(b.target)),
      el("td", {}, `${b.saved_by}, ${plantDate(Date.parse(b.saved_at))}`));
    if (b.name === current) row.classList.add("active");
    t.append(row);
  }
  return t;
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
  const kind = el("select", { name: "target_kind" }, el("option", { value: "" }, "none 無"));
  for (const [k, [label]] of Object.entries(TARGET_KINDS)) kind.append(el("option", { value: k }, label));
  const value = el("input", { name: "target_value", type: "number", step: "any", min: "0", size: "8", placeholder: "1.5" });
  const who = el("input", { name: "saved_by", size: "10", value: localStorage.getItem("kilowatch.alarms.who") || "" });
  const out = el("p", { class: "note", role: "status" });
  form.append(el("label", {}, "name 名稱", name), el("label", {}, "asset 設備", asset),
    el("label", {}, "from 起", from), el("label", {}, "to (included) 迄", to),
    el("label", {}, "target 目標", kind), el("label", {}, "value 數值", value),
    el("label", {}, "by 儲存者", who), el("button", { type: "submit" }, "save baseline 儲存基線"));
  sec.append(form, out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.textContent = "fitting… 計算中";
    const body = { name: name.value.trim(), asset: asset.value, from: from.value, to: to.value, saved_by: who.value.trim() || undefined };
    if (kind.value && value.value) body.target = `${kind.value}:${value.value}`;
    try {
      const saved = await sendBaseline("POST", "baselines", body);
      out.textContent = `saved ${saved.name}: ${saved.model.form}, R² ${fmt(saved.fit.r2, 3)}`;
      setState("baselines", new URLSearchParams({ name: saved.name }));
    } catch (err) {
      out.textContent = "Cannot save 無法儲存: " + err.message;
    }
  });
}

function monthStart(m) {
  return plantMidnight(m + "-01").getTime();
}

function trackingView(t) {
  const u = t.energy_unit;
  const sec = section(`Baseline ${t.baseline.name} 能源基線`, true);
  sec.classList.add("baseline-tracking");
  const tracked = t.months.filter((m) => !m.baseline);
  const last = tracked[tracked.length - 1];
  const tiles = el("div", { class: "tiles" });
  sec.append(tiles);
  tile(tiles, "latest SEnPI 最近月能源績效指數", last ? last.senpi : null, last ? last.month : "");
  tile(tiles, "improvement 改善", last ? last.improvement_percent : null, "%");
  tile(tiles, "CUSUM 累積和", last ? last.cusum : null, u, last && last.cusum > 0);
  tile(tiles, "model 模型", t.baseline.model.form, "");
  const p = t.target;
  if (p) {
    const unit = p.unit === "SEnPI" ? "" : p.unit;
    tile(tiles, `target ${p.year} 目標`, p.target_value, unit);
    tile(tiles, "to date 年初至今", p.achieved, unit);
    tile(tiles, "year-end forecast 年底預估", p.forecast, unit, p.on_track === false);
    sec.append(el("p", { class: "note target-status" }, p.on_track === true ? "on track 達標中" : p.on_track === false ? "off track 未達標" : p.note || "—"));
  }
  sec.append(el("p", { class: "note" }, `SEnPI = ${t.senpi_definition}. Months in ${t.time_zone}.`));
  const pts = (f) => t.months.map((m) => [monthStart(m.month), f(m)]);
  chart(section("Actual vs expected by month 實際與預期用電"), {
    time: true, y: `energy per month (${u})`, x: "month (baseline months then tracked)",
    series: [{ name: `actual 實際 (${u})`, points: pts((m) => m.actual) }, { name: `expected 預期 (${u})`, points: pts((m) => m.expected) }],
  });
  chart(section("CUSUM of actual − expected 累積和"), {
    time: true, y: `CUSUM (${u})`, zero: true, x: "month",
    series: [{ name: `CUSUM (${u})`, points: pts((m) => m.cusum) }],
  });
  const table = el("table", { class: "baseline-months" });
  table.append(el("tr", {}, ...["month 月", "phase", `actual (${u})`, `expected (${u})`, "SEnPI", "improvement %", `CUSUM (${u})`, "YoY %"].map((h) => el("th", {}, h))));
  for (const m of t.months) {
    table.append(el("tr", { class: m.baseline ? "baseline" : "" },
      el("td", {}, m.month), el("td", {}, m.baseline ? "baseline 基線期" : "tracked 追蹤期"),
      el("td", {}, fmt(m.actual, 0)), el("td", {}, fmt(m.expected, 0)), el("td", {}, fmt(m.senpi, 3)),
      el("td", {}, fmt(m.improvement_percent, 1)), el("td", {}, fmt(m.cusum, 0)), el("td", {}, fmt(m.yoy_improvement_percent, 1))));
  }
  section("By month 逐月", true).append(table);
  const del = el("button", { type: "button", class: "delete" }, "delete baseline 刪除");
  del.addEventListener("click", async () => {
    if (!confirm(`Delete baseline ${t.baseline.name}?`)) return;
    await sendBaseline("DELETE", "baselines/" + encodeURIComponent(t.baseline.name));
    setState("baselines", new URLSearchParams());
  });
  sec.append(del);
  if (t.warnings.length) alerts(section("Warnings 警告"), t.warnings.map((w) => ["warn", w]));
}

async function baselinesPage(s, params) {
  const { baselines } = await api("baselines");
  // Without a choice, the first baseline's tracking shows.
  const current = params.get("name") || (baselines[0] || {}).name;
  const list = section(`Energy baselines 能源基線 (${baselines.length})`, true);
  if (baselines.length) list.append(baselineTable(baselines, current));
  else list.append(el("p", { class: "note" }, "No baseline saved yet 尚無能源基線"));
  await saveForm(section("Save a baseline 建立能源基線", true));
  if (!current) return;
  let t;
  try {
    t = await api("baselines/" + encodeURIComponent(current));
  } catch (e) {
    section("Tracking").append(el("p", { class: "note" }, `Cannot track ${current}: ${e.message}`));
    return;
  }
  trackingView(t);
}
PAGES.baselines = { title: "Baselines 基線", render: baselinesPage };
