"use strict";
// The utilities in the dashboard: pumps, fans, cooling towers and the chilled-water plant
// (#/pumps), boilers and steam (#/boiler). Loaded after app.js, whose helpers it uses.

// One chart of `name` for every asset in `reports` (one series each).
function perAsset(reports, name) {
  return reports.map(([a, r]) => ({ name: a.name || a.id, points: seriesOf(r, name) }));
}

async function pumpsPage(s) {
  const [pumps, fans, towers, plants] = await Promise.all(
    ["pump", "fan", "cooling_tower", "chw_plant"].map(assetsOf));
  if (!pumps.length && !fans.length && !towers.length && !plants.length) {
    section(t("nav-pumps")).append(el("p", { class: "note" }, t("pumps-none")));
    return;
  }
  const load = (list) => Promise.all(list.map(async (a) => [a, await enpi(a.id, s)]));
  const [p, f, tw, c] = await Promise.all([load(pumps), load(fans), load(towers), load(plants)]);
  const items = [];
  for (const [a, r] of c) {
    const v = r.summary.values;
    const tiles = el("div", { class: "tiles" });
    section(a.name || a.id, true).append(tiles);
    tile(tiles, t("tile-plant-kw-tr"), v.plant_kw_per_tr, "kW/TR");
    tile(tiles, t("tile-plant-cop"), v.plant_cop, "");
    tile(tiles, t("tile-chillers"), v.chillers_kw_per_tr, "kW/TR");
    tile(tiles, t("tile-chw-pumps"), v.chw_pumps_kw_per_tr, "kW/TR");
    tile(tiles, t("tile-cw-pumps"), v.cw_pumps_kw_per_tr, "kW/TR");
    tile(tiles, t("tile-tower-fans"), v.towers_kw_per_tr, "kW/TR");
    chart(section(t("pumps-chart-plant")), {
      time: true, y: "kW/TR",
      series: [
        { name: t("series-plant"), points: seriesOf(r, "plant_kw_per_tr") },
        { name: t("series-chillers"), points: seriesOf(r, "chillers_kw_per_tr") },
        { name: t("series-chw-pumps"), points: seriesOf(r, "chw_pumps_kw_per_tr") },
        { name: t("series-cw-pumps"), points: seriesOf(r, "cw_pumps_kw_per_tr") },
        { name: t("series-tower-fans"), points: seriesOf(r, "towers_kw_per_tr") },
      ],
    });
    items.push(...missingReasons(r));
  }
  if (p.length) {
    const sec = section(t("pumps-pumps"), true);
    for (const [a, r] of p) {
      const v = r.summary.values;
      const tiles = el("div", { class: "tiles" });
      sec.append(el("h3", {}, a.name || a.id), tiles);
      tile(tiles, t("tile-wire-to-water"), v.wire_to_water_pct, "%", v.wire_to_water_pct < 40);
      tile(tiles, t("tile-specific-energy"), v.kwh_per_m3, "kWh/m³");
      tile(tiles, t("tile-flow"), v.avg_flow_m3h, "m³/h");
      tile(tiles, t("tile-head"), v.avg_head_m, "m");
      tile(tiles, t("tile-energy"), v.energy_kwh, "kWh");
      if (v.vfd_savings_kwh !== undefined) tile(tiles, t("tile-vfd"), v.vfd_savings_pct, "%");
      items.push(...missingReasons(r));
    }
    chart(section(t("pumps-chart-efficiency")), { time: true, y: t("axis-efficiency"), series: perAsset(p, "wire_to_water_pct") });
    chart(section(t("pumps-chart-power")), { time: true, y: t("axis-power"), series: perAsset(p, "avg_power_kw") });
  }
  if (f.length) {
    const sec = section(t("pumps-fans"), true);
    for (const [a, r] of f) {
      const v = r.summary.values;
      const tiles = el("div", { class: "tiles" });
      sec.append(el("h3", {}, a.name || a.id), tiles);
      tile(tiles, t("tile-sfp"), v.sfp_kw_per_m3s, unitOf(r, "sfp_kw_per_m3s"));
      tile(tiles, t("tile-fan-efficiency"), v.fan_efficiency_pct, "%");
      tile(tiles, t("tile-flow"), v.avg_flow_m3s, "m³/s");
      tile(tiles, t("tile-pressure"), v.avg_pressure_kpa, "kPa");
      tile(tiles, t("tile-energy"), v.energy_kwh, "kWh");
      items.push(...missingReasons(r));
    }
    chart(section(t("pumps-chart-fan-power")), { time: true, y: t("axis-power"), series: perAsset(f, "avg_power_kw") });
  }
  for (const [a, r] of tw) {
    const v = r.summary.values;
    const tiles = el("div", { class: "tiles" });
    section(a.name || a.id, true).append(tiles);
    tile(tiles, t("tile-range"), v.range_c, "°C");
    tile(tiles, t("tile-approach"), v.approach_c, "°C");
    tile(tiles, t("tile-effectiveness"), v.effectiveness_pct, "%");
    tile(tiles, t("tile-wet-bulb"), v.wet_bulb_c, "°C");
    tile(tiles, t("tile-fan-kw-tr"), v.fan_kw_per_tr, "kW/TR");
    chart(section(t("pumps-chart-tower")), {
      time: true, y: "°C",
      series: [{ name: t("series-range"), points: seriesOf(r, "range_c") }, { name: t("series-approach"), points: seriesOf(r, "approach_c") }],
    });
    items.push(...missingReasons(r));
  }
  alerts(section(t("alerts-title")), items);
}

async function boilerPage(s) {
  const boilers = await assetsOf("boiler");
  if (!boilers.length) { section(t("nav-boiler")).append(el("p", { class: "note" }, t("boiler-none"))); return; }
  const series = (await api("series")).series;
  const items = [];
  for (const b of boilers) {
    const r = await enpi(b.id, s);
    const v = r.summary.values;
    const tiles = el("div", { class: "tiles" });
    section(b.name || b.id, true).append(tiles);
    tile(tiles, t("tile-eff-direct"), v.direct_efficiency_pct, "%");
    tile(tiles, t("tile-eff-indirect"), v.indirect_efficiency_pct, "%");
    tile(tiles, t("tile-flue-loss"), v.flue_gas_loss_pct, "%", v.flue_gas_loss_pct > 12);
    tile(tiles, t("tile-steam"), v.steam_t, "t");
    tile(tiles, t("tile-fuel"), v.fuel_used, unitOf(r, "fuel_used"));
    tile(tiles, t("tile-fuel-per-t"), v.fuel_per_t, unitOf(r, "fuel_per_t"));
    tile(tiles, t("tile-cost-per-t"), v.cost_per_t, unitOf(r, "cost_per_t"));
    tile(tiles, t("tile-co2e-per-t"), v.co2e_per_t_kg, "kg");
    chart(section(t("boiler-chart-efficiency")), {
      time: true, y: t("axis-efficiency"),
      series: [
        { name: t("boiler-series-direct"), points: seriesOf(r, "direct_efficiency_pct") },
        { name: t("boiler-series-indirect"), points: seriesOf(r, "indirect_efficiency_pct") },
      ],
    });
    chart(section(t("boiler-chart-steam")), { time: true, y: t("boiler-axis-steam"), series: [{ name: t("boiler-series-steam"), points: seriesOf(r, "avg_steam_tph") }] });
    // Flue-gas O2, the excess air an O2 trim controls (the site's first analyser).
    const o2 = series.find((x) => x.quantity === "flue_gas_o2");
    let points = [];
    if (o2) {
      const q = await api("query", { series: `${o2.site}/${o2.device}/${o2.quantity}`, from: s.from.toISOString(), to: s.to.toISOString(), step: stepFor(s.hours) });
      points = (q.points || []).filter((p) => p.avg !== null).map((p) => [Date.parse(p.ts), p.avg]);
    }
    chart(section(t("boiler-chart-o2")), { time: true, y: t("boiler-axis-o2"), series: [{ name: t("boiler-series-o2"), points }] });
    // A boiler without burner or feed-pump meters is normal: their electricity is optional.
    items.push(...missingReasons(r).filter(([, text]) => !text.startsWith("electricity_kwh:")));
  }
  alerts(section(t("alerts-title")), items);
}

PAGES.pumps = { title: () => t("nav-pumps"), render: pumpsPage };
PAGES.boiler = { title: () => t("nav-boiler"), render: boilerPage };
