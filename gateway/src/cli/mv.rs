//! `mv`: savings verification of a retrofit from the store, a CSV file or utility bills.

use std::path::PathBuf;

use kilowatch_gateway::enpi::emission::EmissionFactors;
use kilowatch_gateway::enpi::tariff::Tariff;
use kilowatch_gateway::enpi::Assets;
use kilowatch_gateway::i18n::{self, Language};
use kilowatch_gateway::mv;
use kilowatch_gateway::store::Store;

use super::args::{input_error, load_site, read_with, require_db, zone, Usage};
use super::lang;
use super::mv_bills::{self, BillArgs};

#[derive(clap::Args)]
pub struct MvArgs {
    /// Site file (data from its store).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["csv", "bills"])]
    pub config: Option<PathBuf>,
    /// Overrides `gateway.database` from the site file.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Asset id from the site file: its meters' energy, its production counter as a driver.
    #[arg(long, value_name = "NAME")]
    pub asset: Option<String>,
    /// CSV file with one row per interval (instead of the store).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["config", "asset"])]
    pub csv: Option<PathBuf>,
    /// Utility bills instead of interval data (CalTRACK billing methods): register readings
    /// `ts,device,quantity,value,unit` or one row per bill `from,to,kwh`. Temperature from the
    /// store with --config, or from --temp-csv. Prints schema kilowatch-mv-billing/1 with --json.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["csv", "asset", "html"])]
    pub bills: Option<PathBuf>,
    /// Bills: a CSV of outdoor temperatures (any interval; averaged per day).
    #[arg(
        long,
        value_name = "FILE",
        requires = "bills",
        conflicts_with = "config"
    )]
    pub temp_csv: Option<PathBuf>,
    /// Bills: the temperature column of --temp-csv.
    #[arg(
        long,
        value_name = "COL",
        default_value = "temp",
        requires = "temp_csv"
    )]
    pub temp_col: String,
    /// Bills: the time column of --temp-csv.
    #[arg(
        long,
        value_name = "COL",
        default_value = "time",
        requires = "temp_csv"
    )]
    pub temp_time: String,
    /// CSV: the time column (interval start; RFC 3339, `2016-01-05T00:00:00-0600`, or
    /// local `2026-03-01 08:00` read in --tz).
    #[arg(long, value_name = "COL", requires = "csv")]
    pub time: Option<String>,
    /// CSV: the energy column (energy used in each row's interval). Store: a device whose
    /// energy counts (repeatable; added to the asset's).
    #[arg(long, value_name = "COL|DEVICE")]
    pub energy: Vec<String>,
    /// Outdoor temperature: a CSV column, or a store series `device/quantity` (the site's
    /// only `outdoor_temp` series is used when not given).
    #[arg(long, value_name = "COL|SERIES")]
    pub temp: Option<String>,
    /// Store: do not use a temperature driver.
    #[arg(long, conflicts_with = "temp")]
    pub no_temp: bool,
    /// Unit of the temperature data: C or F.
    #[arg(long, value_name = "C|F", default_value = "C")]
    pub temp_unit: String,
    /// Another driver (production, occupancy): a CSV column or store series, optionally
    /// `:sum` (default for CSV columns and counters; slope must be positive) or `:mean`.
    #[arg(long = "var", value_name = "COL[:sum|:mean]")]
    pub vars: Vec<String>,
    /// CSV: time zone of timestamps without an offset and of the dates given (default: the
    /// rows' offset, else UTC).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// CSV: the energy column's unit for the report.
    #[arg(long, value_name = "UNIT", default_value = "kWh")]
    pub energy_unit: String,
    /// Baseline period FROM..TO: dates (both days included, in the data's time zone) or
    /// RFC 3339 times.
    #[arg(long, value_name = "FROM..TO")]
    pub baseline: String,
    /// Reporting period FROM..TO, after the measure.
    #[arg(long, value_name = "FROM..TO")]
    pub reporting: String,
    /// Period of the model: hour, day, week or month.
    #[arg(long, default_value = "day")]
    pub granularity: String,
    /// Use this model form instead of selecting: mean, linear, 2p, 3p-cooling, 3p-heating,
    /// 4p, 5p, caltrack-hdd, caltrack-cdd, caltrack-hdd-cdd, tow-temp, tow-temp-occupancy;
    /// daily forms but CalTRACK's take `+daytype` and/or `+season` (e.g. `3p-cooling+daytype`).
    #[arg(long, value_name = "FORM")]
    pub model: Option<String>,
    /// CSV: the plant's holidays, YYYY-MM-DD, comma-separated or repeated (the store's come
    /// from `site.holidays`).
    #[arg(long, value_name = "DATES", value_delimiter = ',')]
    pub holidays: Vec<String>,
    /// Accept reporting conditions outside the baseline's range as an extrapolation: the
    /// verdict no longer fails on it (its added uncertainty is counted either way).
    #[arg(long)]
    pub accept_extrapolation: bool,
    /// Back-test the procedure on the baseline (windows with no measure "verified" in turn)
    /// and weigh its false-positive rate in the verdict.
    #[arg(long)]
    pub placebo: bool,
    /// Non-routine adjustment added to the adjusted baseline, FROM..TO=ENERGY:REASON, e.g.
    /// `2026-08-01..2026-08-31=+4500:second shift on line 2` (repeatable).
    #[arg(long, value_name = "ADJUSTMENT")]
    pub adjust: Vec<String>,
    /// Print the full result as JSON (schema kilowatch-mv/1).
    #[arg(long)]
    pub json: bool,
    /// Write a self-contained HTML report with charts to this file.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
    /// CSV: price the savings at this time-of-use tariff (seeds/tariffs/*.toml); the store
    /// uses the site's.
    #[arg(long, value_name = "FILE", requires = "csv")]
    pub tariff: Option<PathBuf>,
    /// CSV: grid emission factors by year (seeds/emission-factors.toml) for the CO2e avoided.
    #[arg(long, value_name = "FILE", requires = "tariff")]
    pub emission_factors: Option<PathBuf>,
    /// CSV: contract capacity (kW) the demand charge is billed against.
    #[arg(long, value_name = "KW", requires = "tariff")]
    pub contract_kw: Option<f64>,
    /// Monthly temperature normals (seeds/weather/taipei-normals.csv format) for normalized
    /// savings; default: the built-in Taipei normals for data in Asia/Taipei.
    #[arg(long, value_name = "FILE")]
    pub normal_weather: Option<PathBuf>,
}

/// `mv`: the report, printed or written as asked.
pub fn run(args: MvArgs) -> anyhow::Result<()> {
    let MvArgs {
        config,
        db,
        asset,
        csv,
        time,
        energy,
        temp,
        no_temp,
        temp_unit,
        vars,
        tz,
        energy_unit,
        baseline,
        reporting,
        granularity,
        model,
        holidays,
        accept_extrapolation,
        placebo,
        adjust,
        json,
        html,
        bills,
        temp_csv,
        temp_col,
        temp_time,
        tariff,
        emission_factors,
        contract_kw,
        normal_weather,
    } = args;
    if contract_kw.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
        return Err(Usage("--contract-kw: must be above 0".into()).into());
    }
    let options = mv::Options {
        baseline,
        reporting,
        granularity: Some(granularity),
        model,
        adjust,
        temp_unit: Some(temp_unit),
        energy_unit: Some(energy_unit),
        holidays,
        accept_extrapolation,
        placebo,
        pricing: mv::price::Pricing {
            tariff: read_with("tariff", tariff.as_deref(), Tariff::parse)?,
            factors: read_with(
                "emission-factors",
                emission_factors.as_deref(),
                EmissionFactors::parse,
            )?,
            contract_kw,
            ..Default::default()
        },
        normal_weather: read_with(
            "normal-weather",
            normal_weather.as_deref(),
            mv::normal::NormalYear::parse,
        )?,
    };
    if let Some(path) = bills {
        return mv_bills::run(BillArgs {
            path,
            config,
            db,
            device: energy.first().cloned(),
            temp,
            temp_csv,
            temp_col,
            temp_time,
            tz,
            json,
            options,
        });
    }
    let (report, lang) = if let Some(path) = csv {
        let (Some(time), [energy]) = (time, energy.as_slice()) else {
            return Err(Usage("--csv needs --time COL and one --energy COL".to_owned()).into());
        };
        let tz = tz
            .map(|t| zone(&t, "Asia/Taipei, America/Chicago"))
            .transpose()?;
        let cols = mv::input::CsvColumns {
            time,
            energy: energy.clone(),
            temp,
            vars: vars
                .iter()
                .map(|v| mv::frame::VarSpec::parse(v))
                .collect::<Result<_, _>>()
                .map_err(Usage)?,
        };
        (
            mv::from_csv(&path, &cols, tz, &options).map_err(input_error)?,
            lang::of(None),
        )
    } else {
        let config = config.expect("clap requires --config without --csv");
        let site = load_site(&config, db)?;
        let assets = Assets::from_site(&site.config, &site.file)?;
        require_db(&site.db, "or give --db")?;
        let store = Store::open(&site.db)?;
        let query = mv::input::StoreQuery {
            asset,
            energy,
            temp,
            vars,
            no_temp,
        };
        (
            mv::from_store(&store, &assets, &query, &options).map_err(input_error)?,
            lang::of(Some(&site.config)),
        )
    };
    if let Some(out) = &html {
        std::fs::write(out, mv::html::render_in(&report, lang))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
        let path = out.display().to_string();
        eprintln!(
            "{}",
            i18n::tr(lang, "cli-report-written", &[("path", &path)])
        );
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_mv(&report, lang);
    }
    Ok(())
}

/// The human summary of a savings verification, in `lang`.
fn print_mv(r: &mv::Report, lang: Language) {
    let u = r.energy_unit.as_str();
    let m = &r.model;
    let n0 = |v: f64| i18n::number_fixed(lang, v, 0);
    println!("{}", r.savings.verdict_message.render(lang));
    let cv = m.cv_rmse.map(|v| format!("{v:.1} %")).unwrap_or("—".into());
    let model = i18n::tr(
        lang,
        "cli-mv-model",
        &[
            ("form", &m.form),
            ("n", &m.n.to_string()),
            ("step", r.granularity.code()),
            ("r2", &format!("{:.3}", m.r2)),
            ("adj", &format!("{:.3}", m.adj_r2)),
            ("cv", &cv),
        ],
    );
    let invalid = if m.valid {
        String::new()
    } else {
        i18n::t(lang, "cli-mv-invalid")
    };
    println!("{model}{invalid}");
    if let Some(p) = &r.placebo {
        let line = match p.false_positive_percent {
            Some(rate) => i18n::tr(
                lang,
                "cli-mv-placebo",
                &[
                    ("verified", &p.verified.to_string()),
                    ("windows", &p.windows.to_string()),
                    ("rate", &format!("{rate:.0}")),
                    ("nominal", &format!("{:.0}", p.nominal_percent)),
                ],
            ),
            None => {
                let note = p
                    .note
                    .clone()
                    .unwrap_or_else(|| i18n::t(lang, "cli-mv-not-run"));
                i18n::tr(lang, "cli-mv-placebo-none", &[("note", &note)])
            }
        };
        println!("{line}");
    }
    println!(
        "{}",
        i18n::tr(
            lang,
            "cli-mv-reporting",
            &[
                ("actual", &n0(r.reporting.actual)),
                (
                    "adjusted",
                    &n0(r.reporting.adjusted_baseline.unwrap_or_default())
                ),
                ("avoided", &n0(r.savings.avoided)),
                ("unit", u),
            ],
        )
    );
    if let Some(p) = &r.priced {
        let symbol = if p.currency == "TWD" {
            "NT$"
        } else {
            &p.currency
        };
        let demand = p
            .demand_cost
            .map(n0)
            .unwrap_or_else(|| i18n::t(lang, "cli-mv-not-priced"));
        let co2e = p
            .co2e_kg
            .map(|kg| format!("{} t", i18n::number_fixed(lang, kg / 1000.0, 2)))
            .unwrap_or_else(|| i18n::t(lang, "cli-mv-no-factors"));
        println!(
            "{}",
            i18n::tr(
                lang,
                "cli-mv-priced",
                &[
                    ("symbol", symbol),
                    ("total", &n0(p.total)),
                    ("energy", &n0(p.energy_cost)),
                    ("demand", &demand),
                    ("pf", &n0(p.pf_adjustment)),
                    ("co2e", &co2e),
                ],
            )
        );
    }
    if let Some(n) = &r.normalized {
        let line = match (n.savings, n.percent) {
            (Some(s), p) => i18n::tr(
                lang,
                "cli-mv-normalized",
                &[
                    ("year", &n.weather_year.to_string()),
                    ("savings", &n0(s)),
                    ("unit", u),
                    (
                        "percent",
                        &p.map(|p| format!(", {p:.1} %")).unwrap_or_default(),
                    ),
                    ("baseline", &n0(n.baseline_annual.unwrap_or_default())),
                    ("reporting", &n0(n.reporting_annual.unwrap_or_default())),
                ],
            ),
            (None, _) => i18n::tr(lang, "cli-mv-normalized-none", &[("note", &n.note)]),
        };
        println!("{line}");
    }
    for w in &r.warning_messages {
        let text = w.render(lang);
        println!("{}", i18n::tr(lang, "cli-warning", &[("text", &text)]));
    }
}
