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
    section("Pumps & fans").append(el("p", { class: "note" }, "No pump, fan, cooling tower or chilled-water plant asset in the site file."));
    return;
  }
  const load = (list) => Promise.all(list.map(async (a) => [a, await enpi(a.id, s)]));
  const [p, f, t, c] = await Promise.all([load(pumps), load(fans), load(towers), load(plants)]);
  const items = [];
  for (const [a, r] of c) {
    const v = r.summary.values;
    const tiles = el("div", { class: "tiles" });
    section(a.name || a.id, true).append(tiles);
    tile(tiles, "plant kW/TR", v.plant_kw_per_tr, "kW/TR");
    tile(tiles, "plant COP", v.plant_cop, "");
    tile(tiles, "chillers", v.chillers_kw_per_tr, "kW/TR");
    tile(tiles, "CHW pumps", v.chw_pumps_kw_per_tr, "kW/TR");
    tile(tiles, "CW pumps", v.cw_pumps_kw_per_tr, "kW/TR");
    tile(tiles, "tower fans", v.towers_kw_per_tr, "kW/TR");
    chart(section("Plant kW/TR by part"), {
      time: true, y: "kW/TR",
      series: [
        { name: "plant", points: seriesOf(r, "plant_kw_per_tr") },
        { name: "chillers", points: seriesOf(r, "chillers_kw_per_tr") },
        { name: "pumps (CHW)", points: seriesOf(r, "chw_pumps_kw_per_tr") },
        { name: "pumps (CW)", points: seriesOf(r, "cw_pumps_kw_per_tr") },
        { name: "tower fans", points: seriesOf(r, "towers_kw_per_tr") },
      ],
    });
    items.push(...missingReasons(r));
  }
  if (p.length) {
    const sec = section("Pumps", true);
    for (const [a, r] of p) {
      const v = r.summary.values;
      const tiles = el("div", { class: "tiles" });
      sec.append(el("h3", {}, a.name || a.id), tiles);
      tile(tiles, "wire-to-water", v.wire_to_water_pct, "%", v.wire_to_water_pct < 40);
      tile(tiles, "specific energy", v.kwh_per_m3, "kWh/m³");
      tile(tiles, "flow", v.avg_flow_m3h, "m³/h");
      tile(tiles, "head", v.avg_head_m, "m");
      tile(tiles, "energy", v.energy_kwh, "kWh");
      if (v.vfd_savings_kwh !== undefined) tile(tiles, "VFD estimate saves", v.vfd_savings_pct, "%");
      items.push(...missingReasons(r));
    }
    chart(section("Pump wire-to-water efficiency"), { time: true, y: "efficiency (%)", series: perAsset(p, "wire_to_water_pct") });
    chart(section("Pump power"), { time: true, y: "power (kW)", series: perAsset(p, "avg_power_kw") });
  }
  if (f.length) {
    const sec = section("Fans", true);
    for (const [a, r] of f) {
      const v = r.summary.values;
      const tiles = el("div", { class: "tiles" });
      sec.append(el("h3", {}, a.name || a.id), tiles);
      tile(tiles, "SFP", v.sfp_kw_per_m3s, unitOf(r, "sfp_kw_per_m3s"));
      tile(tiles, "fan efficiency", v.fan_efficiency_pct, "%");
      tile(tiles, "flow", v.avg_flow_m3s, "m³/s");
      tile(tiles, "pressure", v.avg_pressure_kpa, "kPa");
      tile(tiles, "energy", v.energy_kwh, "kWh");
      items.push(...missingReasons(r));
    }
    chart(section("Fan power"), { time: true, y: "power (kW)", series: perAsset(f, "avg_power_kw") });
  }
  for (const [a, r] of t) {
    const v = r.summary.values;
    const tiles = el("div", { class: "tiles" });
    section(a.name || a.id, true).append(tiles);
    tile(tiles, "range", v.range_c, "°C");
    tile(tiles, "approach", v.approach_c, "°C");
    tile(tiles, "effectiveness", v.effectiveness_pct, "%");
    tile(tiles, "wet bulb", v.wet_bulb_c, "°C");
    tile(tiles, "fan kW/TR", v.fan_kw_per_tr, "kW/TR");
    chart(section("Tower range and approach"), {
      time: true, y: "°C",
      series: [{ name: "range", points: seriesOf(r, "range_c") }, { name: "approach", points: seriesOf(r, "approach_c") }],
    });
    items.push(...missingReasons(r));
  }
  alerts(section("Alerts"), items);
}

async function boilerPage(s) {
  const boilers = await assetsOf("boiler");
  if (!boilers.length) { section("Boiler & steam").append(el("p", { class: "note" }, "No boiler asset in the site file.")); return; }
  const series = (await api("series")).series;
  const items = [];
  for (const b of boilers) {
    const r = await enpi(b.id, s);
    const v = r.summary.values;
    const tiles = el("div", { class: "tiles" });
    section(b.name || b.id, true).append(tiles);
    tile(tiles, "efficiency (direct)", v.direct_efficiency_pct, "%");
    tile(tiles, "efficiency (indirect)", v.indirect_efficiency_pct, "%");
    tile(tiles, "flue-gas loss", v.flue_gas_loss_pct, "%", v.flue_gas_loss_pct > 12);
    tile(tiles, "steam", v.steam_t, "t");
    tile(tiles, "fuel", v.fuel_used, unitOf(r, "fuel_used"));
    tile(tiles, "fuel per t", v.fuel_per_t, unitOf(r, "fuel_per_t"));
    tile(tiles, "cost per t", v.cost_per_t, unitOf(r, "cost_per_t"));
    tile(tiles, "CO2e per t", v.co2e_per_t_kg, "kg");
    chart(section("Boiler efficiency"), {
      time: true, y: "efficiency (%)",
      series: [
        { name: "direct (steam / fuel)", points: seriesOf(r, "direct_efficiency_pct") },
        { name: "indirect (100 − losses)", points: seriesOf(r, "indirect_efficiency_pct") },
      ],
    });
    chart(section("Steam raised"), { time: true, y: "steam (t/h)", series: [{ name: "average steam flow", points: seriesOf(r, "avg_steam_tph") }] });
    // Flue-gas O2, the excess air an O2 trim controls (the site's first analyser).
    const o2 = series.find((x) => x.quantity === "flue_gas_o2");
    let points = [];
    if (o2) {
      const q = await api("query", { series: `${o2.site}/${o2.device}/${o2.quantity}`, from: s.from.toISOString(), to: s.to.toISOString(), step: stepFor(s.hours) });
      points = (q.points || []).filter((p) => p.avg !== null).map((p) => [Date.parse(p.ts), p.avg]);
    }
    chart(section("Flue-gas O2"), { time: true, y: "O2 (% dry)", series: [{ name: "flue-gas O2", points }] });
    // A boiler without burner or feed-pump meters is normal: their electricity is optional.
    items.push(...missingReasons(r).filter(([, text]) => !text.startsWith("electricity_kwh:")));
  }
  alerts(section("Alerts"), items);
}

PAGES.pumps = { title: "Pumps & fans", render: pumpsPage };
PAGES.boiler = { title: "Boiler & steam", render: boilerPage };
