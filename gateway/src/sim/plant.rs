//! A plant driven by physics, not noise: production follows shifts, weekends and holidays; the
//! outdoor temperature a daily and seasonal cycle; compressed-air demand is production plus
//! leaks; a fixed-speed load/unload screw compressor cycles inside its pressure band on a
//! receiver whose pressure integrates supply minus demand; a VSD compressor trims below that
//! band; a water-cooled chiller carries process heat and envelope load at a part-load
//! efficiency; energy counters integrate power exactly. Retrofits (leak repair, a better
//! chiller) switch on at configured dates, and a counterfactual twin of each affected system
//! keeps running without the measure, so the energy each one saved is known exactly.
//!
//! Part-load shapes follow the forms in US DOE MEASUR (`Compressors.cpp`): a load/unload
//! compressor draws its full power loaded and a fixed fraction unloaded; a VSD's power falls
//! almost linearly with flow down to its minimum speed.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::meter::production_shape;
use super::parts::kvarh_register;
pub use super::parts::{feeder, part_values, Part, PartSettings};
use super::rng::Rng;
use super::scenario::{self, Scenario};
pub use super::snapshot::Snapshot;
use super::utilities::{
    self, BoilerSettings, FanSettings, FanVfd, O2Trim, PumpSettings, PumpVfd, TowerSettings,
    UtilitySnapshot,
};
use super::variation::Variation;

const P_ATM: f64 = 1.013;
/// Specific heat of water, kJ/(kg·K).
const CP_WATER: f64 = 4.186;
/// kW per refrigeration ton.
const KW_PER_TR: f64 = 3.517;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlantSettings {
    pub seed: u64,
    /// Units produced per hour at full production.
    pub units_per_hour: f64,
    /// Plant-local dates without production.
    pub holidays: Vec<NaiveDate>,
    /// Plant load besides compressors and chiller: base and at full production, kW.
    pub base_kw: f64,
    pub production_kw: f64,
    pub air: AirSettings,
    pub chiller: ChillerSettings,
    pub weather: WeatherSettings,
    pub leak_repair: Option<LeakRepair>,
    pub chiller_retrofit: Option<ChillerRetrofit>,
    /// The chilled- and condenser-water pumps, the cooling tower, the boiler and the exhaust
    /// fan (sim/utilities.rs), and their retrofits.
    pub chw_pump: PumpSettings,
    pub cw_pump: PumpSettings,
    pub tower: TowerSettings,
    pub boiler: BoilerSettings,
    pub exhaust_fan: FanSettings,
    pub pump_vfd: Option<PumpVfd>,
    pub boiler_o2_trim: Option<O2Trim>,
    pub fan_vfd: Option<FanVfd>,
    /// The day the retrofit and plan dates were written for; `demo` moves them by the whole
    /// weeks since (gateway/src/demo_dates.rs). The physics does not read it.
    pub dates_as_of: Option<NaiveDate>,
    /// Faults the live plant shows from the simulator's start (see `scenario`).
    pub scenarios: Vec<Scenario>,
    /// The incomer's load under the `demand-peak` scenario, kW (default: 110 % of the site's
    /// contract capacity).
    pub peak_kw: Option<f64>,
}

impl Default for PlantSettings {
    fn default() -> Self {
        Self {
            seed: 1,
            units_per_hour: 1200.0,
            holidays: Vec::new(),
            base_kw: 60.0,
            production_kw: 180.0,
            air: AirSettings::default(),
            chiller: ChillerSettings::default(),
            weather: WeatherSettings::default(),
            leak_repair: None,
            chiller_retrofit: None,
            chw_pump: utilities::default_chw_pump(),
            cw_pump: utilities::default_cw_pump(),
            tower: TowerSettings::default(),
            boiler: BoilerSettings::default(),
            exhaust_fan: FanSettings::default(),
            pump_vfd: None,
            boiler_o2_trim: None,
            fan_vfd: None,
            dates_as_of: None,
            scenarios: Vec::new(),
            peak_kw: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AirSettings {
    /// Fixed-speed load/unload screw: free-air delivery (m³/min), power loaded (kW), power
    /// unloaded as a fraction of loaded, pressure band (bar g).
    pub fixed_capacity: f64,
    pub fixed_kw: f64,
    pub unloaded_fraction: f64,
    pub cut_in_bar: f64,
    pub cut_out_bar: f64,
    /// VSD screw: capacity at full speed, power at full speed, minimum speed, set point below
    /// the fixed compressor's band (it trims only when the fixed one cannot keep up).
    pub vsd_capacity: f64,
    pub vsd_kw: f64,
    pub vsd_min_speed: f64,
    pub vsd_setpoint_bar: f64,
    /// Receiver and piping volume, m³.
    pub receiver_m3: f64,
    /// Process air at full production, m³/min.
    pub process_air: f64,
    /// Leak flow as a fraction of the fixed compressor's capacity: with no production the
    /// fixed compressor's loaded fraction equals it.
    pub leak_fraction: f64,
}

impl Default for AirSettings {
    fn default() -> Self {
        Self {
            fixed_capacity: 10.0,
            fixed_kw: 55.0,
            unloaded_fraction: 0.3,
            cut_in_bar: 6.5,
            cut_out_bar: 7.2,
            vsd_capacity: 8.0,
            vsd_kw: 45.0,
            vsd_min_speed: 0.3,
            vsd_setpoint_bar: 6.4,
            receiver_m3: 3.0,
            process_air: 12.0,
            leak_fraction: 0.3,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChillerSettings {
    pub capacity_tr: f64,
    /// kW/TR at full load and 30 °C outdoor.
    pub kw_per_tr: f64,
    /// Constant load (TR), process heat at full production (TR), envelope TR per °C above
    /// `balance_c` outdoors.
    pub base_tr: f64,
    pub process_tr: f64,
    pub envelope_tr_per_c: f64,
    pub balance_c: f64,
    pub chw_flow_m3h: f64,
    pub supply_c: f64,
}

impl Default for ChillerSettings {
    fn default() -> Self {
        Self {
            capacity_tr: 150.0,
            kw_per_tr: 0.70,
            base_tr: 15.0,
            process_tr: 60.0,
            envelope_tr_per_c: 4.0,
            balance_c: 18.0,
            chw_flow_m3h: 90.0,
            supply_c: 7.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeatherSettings {
    /// Annual mean, seasonal and daily half-amplitudes, °C (Taiwan-like by default).
    pub mean_c: f64,
    pub seasonal_c: f64,
    pub daily_c: f64,
    /// Relative humidity: daily mean and half-amplitude (driest mid-afternoon), %.
    pub rh_mean: f64,
    pub rh_daily: f64,
}

impl Default for WeatherSettings {
    fn default() -> Self {
        Self {
            mean_c: 23.5,
            seasonal_c: 5.5,
            daily_c: 3.5,
            rh_mean: 75.0,
            rh_daily: 12.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakRepair {
    pub date: NaiveDate,
    /// Fraction of the leak flow removed.
    pub reduction: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChillerRetrofit {
    pub date: NaiveDate,
    /// kW/TR of the new chiller at full load and 30 °C.
    pub kw_per_tr: f64,
}

/// One compressed-air system: receiver pressure, both compressors, their energy.
#[derive(Debug, Clone)]
struct AirSystem {
    pressure: f64,
    fixed_loaded: bool,
    vsd_speed: f64,
    vsd_integral: f64,
    fixed_kw: f64,
    vsd_kw: f64,
    supplied: f64,
}

impl AirSystem {
    fn new(a: &AirSettings) -> Self {
        Self {
            pressure: a.cut_out_bar,
            fixed_loaded: false,
            vsd_speed: 0.0,
            vsd_integral: 0.0,
            fixed_kw: 0.0,
            vsd_kw: 0.0,
            supplied: 0.0,
        }
    }

    /// Advances `dt` seconds at `demand` m³/min.
    fn step(&mut self, a: &AirSettings, demand: f64, dt: f64) {
        if self.pressure <= a.cut_in_bar {
            self.fixed_loaded = true;
        } else if self.pressure >= a.cut_out_bar {
            self.fixed_loaded = false;
        }
        // PI trim on pressure below the fixed band; stops when not needed.
        let error = a.vsd_setpoint_bar - self.pressure;
        self.vsd_integral = (self.vsd_integral + 0.05 * error * dt).clamp(0.0, 1.0);
        let want = (2.0 * error + self.vsd_integral).clamp(0.0, 1.0);
        self.vsd_speed = if want <= 0.0 && self.pressure > a.vsd_setpoint_bar {
            0.0
        } else {
            want.max(a.vsd_min_speed).min(1.0)
        };
        if error < -0.2 {
            self.vsd_speed = 0.0;
            self.vsd_integral = 0.0;
        }
        let fixed_flow = if self.fixed_loaded {
            a.fixed_capacity
        } else {
            0.0
        };
        let vsd_flow = self.vsd_speed * a.vsd_capacity;
        self.supplied = fixed_flow + vsd_flow;
        self.fixed_kw = if self.fixed_loaded {
            a.fixed_kw
        } else {
            a.fixed_kw * a.unloaded_fraction
        };
        // MEASUR-style VSD curve: roughly linear in flow above a no-load share.
        self.vsd_kw = if self.vsd_speed > 0.0 {
            a.vsd_kw * (0.08 + 0.92 * self.vsd_speed)
        } else {
            0.0
        };
        let dp = (self.supplied - demand) / 60.0 * P_ATM / a.receiver_m3 * dt;
        self.pressure = (self.pressure + dp).clamp(0.0, a.cut_out_bar + 1.0);
    }
}

pub struct Plant {
    s: PlantSettings,
    tz: Tz,
    rng: Rng,
    air: AirSystem,
    /// The same air system without the leak repair.
    air_without: AirSystem,
    temp_noise: f64,
    /// Seconds since the humidity (and so the wet bulb) was last refreshed: once a minute
    /// keeps a year's backfill from paying for Stull's formula every second.
    humidity_age: f64,
    /// Deviations from plan: production, air demand, unplanned stops.
    variation: Variation,
    snap: Snapshot,
    /// When the scenarios began (`None`: not yet, e.g. during a history backfill).
    scenarios_from: Option<DateTime<Utc>>,
}

impl Plant {
    pub fn new(s: PlantSettings, tz: Tz) -> Self {
        let air = AirSystem::new(&s.air);
        Self {
            rng: Rng::new(s.seed),
            air_without: air.clone(),
            air,
            tz,
            temp_noise: 0.0,
            humidity_age: f64::INFINITY,
            variation: Variation::new(s.seed),
            snap: Snapshot {
                incomer_kwh: 250_000.0,
                fixed_kwh: 40_000.0,
                vsd_kwh: 30_000.0,
                chiller_kwh: 60_000.0,
                production_count: 1_000_000.0,
                air_volume_m3: 5_000_000.0,
                pressure_bar: s.air.cut_out_bar,
                utilities: UtilitySnapshot {
                    gas_m3: 200_000.0,
                    ..UtilitySnapshot::default()
                },
                ..Snapshot::default()
            },
            s,
            scenarios_from: None,
        }
    }

    /// Lets the configured scenarios act from `at` on (the live simulator's start).
    pub fn start_scenarios(&mut self, at: DateTime<Utc>) {
        self.scenarios_from.get_or_insert(at);
    }

    /// Goes live at `now`, the plant last stepped at `last`: the scenarios act from `now`
    /// and the plant is stepped to it at once, so the first image served already shows them.
    /// (Left to the first tick, the agent's first poll could read the plant from before: a
    /// demand window's first reading without the peak.)
    pub fn go_live(&mut self, now: DateTime<Utc>, last: DateTime<Utc>) {
        self.start_scenarios(now);
        if now > last {
            self.step(now, (now - last).num_milliseconds() as f64 / 1000.0);
        }
    }

    /// Whether `s` is configured and has begun at `t`.
    pub fn scenario(&self, s: Scenario, t: DateTime<Utc>) -> bool {
        self.scenarios_from.is_some_and(|from| t >= from) && self.s.scenarios.contains(&s)
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snap
    }

    fn outdoor(&self, local: &DateTime<Tz>) -> f64 {
        let w = &self.s.weather;
        let doy = f64::from(local.ordinal0());
        let hour = f64::from(local.num_seconds_from_midnight()) / 3600.0;
        let tau = std::f64::consts::TAU;
        // Warmest around late July and mid-afternoon.
        w.mean_c
            + w.seasonal_c * (tau * (doy - 205.0) / 365.0).cos()
            + w.daily_c * (tau * (hour - 15.0) / 24.0).cos()
            + self.temp_noise
    }

    /// Advances the plant by `dt` seconds ending at `t`.
    pub fn step(&mut self, t: DateTime<Utc>, dt: f64) {
        let local = t.with_timezone(&self.tz);
        let holiday = self.s.holidays.contains(&local.date_naive());
        let dev = self.variation.step(local.naive_local(), dt);
        // The `leak` scenario's leak test: the line stands still (see `scenario`).
        let leak_test = self.scenario(Scenario::Leak, t)
            && self
                .scenarios_from
                .is_some_and(|from| t < scenario::leak_test_end(from));
        let prod = if holiday || dev.stopped || leak_test {
            0.0
        } else {
            (production_shape(local.naive_local()) * dev.production).min(1.2)
        };
        // Slow weather noise: an AR(1) with a time constant of about an hour.
        let k = (dt / 3600.0).min(1.0);
        self.temp_noise = (1.0 - k) * self.temp_noise + k.sqrt() * 0.6 * self.rng.gauss();
        let outdoor = self.outdoor(&local);
        let date = local.date_naive();

        // Compressed air: production plus leaks, with and without the repair.
        let a = &self.s.air;
        let leak_full = a.leak_fraction * a.fixed_capacity;
        let repaired = self.s.leak_repair.as_ref().filter(|r| date >= r.date);
        let mut leak = repaired.map_or(leak_full, |r| leak_full * (1.0 - r.reduction));
        if self.scenario(Scenario::Leak, t) {
            leak += scenario::LEAK_EXTRA_FRACTION * a.fixed_capacity;
        }
        let process = prod * a.process_air;
        self.air.step(a, (process + leak) * dev.air, dt);
        if repaired.is_some() {
            self.air_without
                .step(a, (process + leak_full) * dev.air, dt);
        }

        // Chiller: load from base, process heat and the envelope; kW from the part-load curve,
        // worse with warmer condenser water (outdoor temperature).
        let c = &self.s.chiller;
        let load_tr = (c.base_tr
            + prod * c.process_tr
            + c.envelope_tr_per_c * (outdoor - c.balance_c).max(0.0))
        .min(c.capacity_tr);
        let plr = load_tr / c.capacity_tr;
        let curve = |kw_per_tr: f64| {
            let full_kw = kw_per_tr * c.capacity_tr;
            full_kw * (0.12 + 0.48 * plr + 0.40 * plr * plr) * (1.0 + 0.015 * (outdoor - 30.0))
        };
        let retrofit = self.s.chiller_retrofit.as_ref().filter(|r| date >= r.date);
        let fouling = if self.scenario(Scenario::ChillerFouling, t) {
            scenario::FOULING_FACTOR
        } else {
            1.0
        };
        let chiller_kw = curve(retrofit.map_or(c.kw_per_tr, |r| r.kw_per_tr)) * fouling;
        let chiller_kw_without = curve(c.kw_per_tr);

        // Pumps, tower, boiler, exhaust fan.
        self.humidity_age += dt;
        let humidity = (self.humidity_age >= 60.0).then(|| {
            self.humidity_age = 0.0;
            let w = &self.s.weather;
            let hour = f64::from(local.num_seconds_from_midnight()) / 3600.0;
            w.rh_mean - w.rh_daily * (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos()
        });
        let s = &self.s;
        utilities::step(
            &utilities::Settings {
                chw_pump: &s.chw_pump,
                cw_pump: &s.cw_pump,
                tower: &s.tower,
                boiler: &s.boiler,
                exhaust_fan: &s.exhaust_fan,
                pump_vfd: s.pump_vfd.as_ref(),
                o2_trim: s.boiler_o2_trim.as_ref(),
                fan_vfd: s.fan_vfd.as_ref(),
            },
            &utilities::Inputs {
                date,
                production: prod,
                outdoor_c: outdoor,
                humidity_pct: humidity,
                cooling_kw: load_tr * KW_PER_TR,
                chiller_kw,
                chw_design_m3h: c.chw_flow_m3h,
            },
            &mut self.snap.utilities,
            dt,
        );
        let flow_kg_s = self.snap.utilities.chw_flow_m3h / 3.6;
        let dt_chw = load_tr * KW_PER_TR / (flow_kg_s * CP_WATER);

        let h = dt / 3600.0;
        let peak = self
            .s
            .peak_kw
            .filter(|_| self.scenario(Scenario::DemandPeak, t));
        let snap = &mut self.snap;
        snap.production_fraction = prod;
        snap.production_count += prod * self.s.units_per_hour * h;
        snap.outdoor_c = outdoor;
        snap.pressure_bar = self.air.pressure;
        snap.air_flow_m3min = (process + leak) * dev.air;
        snap.air_volume_m3 += snap.air_flow_m3min * dt / 60.0;
        snap.fixed_kw = self.air.fixed_kw;
        snap.fixed_loaded = self.air.fixed_loaded;
        snap.vsd_kw = self.air.vsd_kw;
        snap.chiller_kw = chiller_kw;
        snap.cooling_tr = load_tr;
        snap.chw_flow_m3h = snap.utilities.chw_flow_m3h;
        snap.chw_supply_c = c.supply_c;
        snap.chw_return_c = c.supply_c + dt_chw;
        snap.incomer_kw = self.s.base_kw
            + prod * self.s.production_kw
            + snap.fixed_kw
            + snap.vsd_kw
            + snap.chiller_kw
            + snap.utilities.chw_pump_kw
            + snap.utilities.cw_pump_kw
            + snap.utilities.tower_fan_kw
            + snap.utilities.exhaust_kw;
        if let Some(peak) = peak {
            // The extra load's controller tops the plant up to the peak.
            snap.incomer_kw = snap.incomer_kw.max(peak);
        }
        // Counters integrate the power held over the step: exact for the model.
        snap.fixed_kwh += snap.fixed_kw * h;
        snap.vsd_kwh += snap.vsd_kw * h;
        snap.chiller_kwh += snap.chiller_kw * h;
        snap.incomer_kwh += snap.incomer_kw * h;
        for part in [
            Part::Incomer,
            Part::CompressorFixed,
            Part::CompressorVsd,
            Part::Chiller,
        ] {
            if let Some((kw, pf)) = feeder(part, snap) {
                let kvar = kw * (1.0 / (pf * pf) - 1.0).max(0.0).sqrt();
                *kvarh_register(part, snap) += kvar * h;
            }
        }
        if repaired.is_some() {
            snap.saved_leak_kwh += (self.air_without.fixed_kw + self.air_without.vsd_kw
                - self.air.fixed_kw
                - self.air.vsd_kw)
                * h;
        } else {
            self.air_without = self.air.clone();
        }
        if retrofit.is_some() {
            snap.saved_chiller_kwh += (chiller_kw_without - chiller_kw) * h;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> Tz {
        "Asia/Taipei".parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Runs from `start` for `secs` one-second steps, calling `f` after each.
    fn run(p: &mut Plant, start: DateTime<Utc>, secs: i64, mut f: impl FnMut(&Snapshot)) {
        for i in 1..=secs {
            p.step(start + chrono::Duration::seconds(i), 1.0);
            f(p.snapshot());
        }
    }

    #[test]
    fn leak_test_on_a_sunday_recovers_the_leak_fraction() {
        for leak in [0.15, 0.3, 0.45] {
            let mut s = PlantSettings::default();
            s.air.leak_fraction = leak;
            let mut p = Plant::new(s, tz());
            // Sunday 2026-03-01, 02:00-04:00 local: no production.
            let (mut loaded, mut total) = (0u32, 0u32);
            run(&mut p, at("2026-02-28T18:00:00Z"), 7200, |s| {
                assert_eq!(s.production_fraction, 0.0);
                total += 1;
                loaded += u32::from(s.fixed_loaded);
                assert_eq!(s.vsd_kw, 0.0, "the VSD must stay off for a leak test");
            });
            let pct = 100.0 * f64::from(loaded) / f64::from(total);
            assert!(
                (pct - 100.0 * leak).abs() < 2.0,
                "leak {leak}: measured {pct:.1} %"
            );
        }
    }

    #[test]
    fn counters_match_the_integral_of_sampled_power() {
        let mut p = Plant::new(PlantSettings::default(), tz());
        // A weekday: production, compressors cycling, the VSD trimming.
        let start = at("2026-03-03T00:00:00Z");
        run(&mut p, start, 60, |_| {});
        let s0 = p.snapshot().clone();
        let (mut fixed, mut vsd, mut inc, mut vsd_seen) = (0.0, 0.0, 0.0, false);
        // Integrate what a meter polled every second would see.
        run(
            &mut p,
            start + chrono::Duration::seconds(60),
            4 * 3600,
            |s| {
                fixed += s.fixed_kw / 3600.0;
                vsd += s.vsd_kw / 3600.0;
                inc += s.incomer_kw / 3600.0;
                vsd_seen |= s.vsd_kw > 0.0;
            },
        );
        let s1 = p.snapshot();
        assert!(vsd_seen, "the VSD never ran during production");
        for (name, counter, integral) in [
            ("fixed", s1.fixed_kwh - s0.fixed_kwh, fixed),
            ("vsd", s1.vsd_kwh - s0.vsd_kwh, vsd),
            ("incomer", s1.incomer_kwh - s0.incomer_kwh, inc),
        ] {
            let err = (counter - integral).abs() / integral;
            assert!(
                err < 0.005,
                "{name}: counter {counter} vs integral {integral}"
            );
        }
        // Pressure stayed in a sane range while production ran.
        assert!((6.0..7.6).contains(&s1.pressure_bar), "{}", s1.pressure_bar);
    }

    #[test]
    fn same_seed_same_series_and_retrofits_save_what_they_should() {
        let s = PlantSettings {
            leak_repair: Some(LeakRepair {
                date: "2026-03-02".parse().unwrap(),
                reduction: 0.6,
            }),
            chiller_retrofit: Some(ChillerRetrofit {
                date: "2026-03-02".parse().unwrap(),
                kw_per_tr: 0.55,
            }),
            ..PlantSettings::default()
        };
        let series = |s: PlantSettings| {
            let mut p = Plant::new(s, tz());
            let mut out = Vec::new();
            run(&mut p, at("2026-03-01T12:00:00Z"), 24 * 3600, |s| {
                out.push((s.incomer_kw, s.outdoor_c, s.pressure_bar));
            });
            (out, p.snapshot().clone())
        };
        let (a, end) = series(s.clone());
        let (b, _) = series(s);
        assert_eq!(a, b, "same seed, same configuration, same series");
        // The day after the retrofits: both measures saved energy, and a Sunday's leak share
        // of 30 % cut by 60 % is about 18 % of the fixed compressor's loaded-unloaded span.
        assert!(end.saved_leak_kwh > 0.0, "{end:?}");
        assert!(end.saved_chiller_kwh > 0.0, "{end:?}");
    }
}
