//! `kilowatch-gateway`: stores the plant's readings, serves the API and dashboard, and runs the
//! demo plant.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kilowatch_agent::config::{ConfigError, SiteConfig};
use kilowatch_agent::profile::ProfileLibrary;
use kilowatch_agent::{init_logging, shutdown_signal};
use kilowatch_gateway::enpi::{self, Assets, Step};
use kilowatch_gateway::http::{self, BindError};
use kilowatch_gateway::store::{Store, StoreSettings};
use kilowatch_gateway::{csvio, demo, service, sim};

/// A wrong command-line value: exit code 2 like a configuration error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

/// kilowatch gateway: receives meter readings over MQTT, stores them (SQLite), and serves the
/// HTTP API and live dashboard. `demo` runs a complete simulated plant in one command.
#[derive(Parser)]
#[command(name = "kilowatch-gateway", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole stack on a simulated plant: device simulators, an embedded MQTT broker,
    /// the agent and the gateway, in one process. Needs no configuration.
    Demo {
        /// Address of the dashboard and API.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        http: SocketAddr,
        /// Keep the demo database in this directory (default: a temporary one, removed on exit).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Fill the store with simulated one-minute history first, e.g. 90d or 365d (a truth
        /// file of the retrofits' savings is written beside the database).
        #[arg(long, value_name = "LENGTH", value_parser = kilowatch_agent::config::parse_duration)]
        history: Option<std::time::Duration>,
        /// File whose first line is the API's access token (needed when --http is not a
        /// loopback address).
        #[arg(long, value_name = "FILE")]
        access_token_file: Option<PathBuf>,
    },
    /// Run the gateway for a site: subscribe to the broker, store readings, serve the API.
    Run {
        /// Site configuration, e.g. seeds/demo-site.toml.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Overrides `gateway.http` from the site file.
        #[arg(long, value_name = "ADDR")]
        http: Option<SocketAddr>,
        /// Overrides `gateway.database` from the site file.
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Overrides `mqtt.gateway_client_id` (each instance of a share group needs its own).
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
        /// Overrides `gateway.share_group`: instances in one group split the MQTT stream.
        #[arg(long, value_name = "GROUP")]
        share_group: Option<String>,
    },
    /// Import readings from a CSV file (production log, utility bill, another system) into the
    /// site's database. Columns: ts,device,quantity,value[,unit][,site]; `ts` in RFC 3339 or
    /// plant-local `2026-03-01 08:00`. Importing the same file twice changes nothing.
    Import {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Overrides `gateway.database` from the site file.
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// The CSV file.
        csv: PathBuf,
    },
    /// Export one series as CSV (to stdout or --out): raw samples, or rollups with --step.
    Export {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Overrides `gateway.database` from the site file.
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// site/device/quantity, e.g. demo-plant/incomer/active_power.
        #[arg(long)]
        series: String,
        /// Start (RFC 3339 or plant-local `2026-03-01 00:00`); default 24 h ago.
        #[arg(long)]
        from: Option<String>,
        /// End, exclusive; default now.
        #[arg(long)]
        to: Option<String>,
        /// 1m, 15m, 1h or 1d for rollups (count, avg, min, max, delta, integral); raw without.
        #[arg(long)]
        step: Option<String>,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Energy-performance indicators of an asset from the site file's `[[assets]]`: compressor
    /// specific power, loaded %, leakage %; chiller kW/TR, COP, IPLV-style part load; plant kWh,
    /// SEC, demand against contract, load factor, power factor, time-of-use cost, CO2e.
    /// Without --asset, lists the assets and their indicators.
    ///
    /// Example: kilowatch-gateway enpi --config site.toml --asset compressed-air
    ///          --from 2026-10-01 --to 2026-11-01 --step 1d --csv > air.csv
    Enpi {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Overrides `gateway.database` from the site file.
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Asset id from the site file.
        #[arg(long, value_name = "NAME")]
        asset: Option<String>,
        /// Start: plant-local date `2026-10-01`, `2026-10-01 08:00`, or RFC 3339; default 24 h ago.
        #[arg(long)]
        from: Option<String>,
        /// End, exclusive; default now.
        #[arg(long)]
        to: Option<String>,
        /// 15m, 1h, 1d or 1mo (billing month); default from the span.
        #[arg(long)]
        step: Option<String>,
        /// Print the full answer as JSON (the API's format).
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print one CSV row per interval (empty cells where an input is missing; reasons in `notes`).
        #[arg(long)]
        csv: bool,
        /// Recompute and store the indicators of every asset over the range first (after a
        /// backfill, an import or a change of assets, tariff or emission factors).
        #[arg(long)]
        recompute: bool,
    },
    /// Verify savings of a retrofit (IPMVP Option B or C, ASHRAE Guideline 14): fit a baseline
    /// model on the baseline period (mean, production, temperature change-point, CalTRACK
    /// degree-day, day-type and season terms, time-of-week models with occupancy; a more
    /// complex model wins only when the partial F test says it fits significantly better),
    /// predict what the plant would have used in the reporting period, and report the avoided
    /// energy with its uncertainty. "Verified" only when the model is valid, the reporting
    /// conditions lie inside the baseline's, the data suffice and the 90 % interval excludes
    /// zero; otherwise the verdict names each reason. --placebo adds a back-test on the
    /// baseline: the share of no-savings windows called verified (the false-positive rate).
    ///
    /// From the store:  kilowatch-gateway mv --config site.toml --asset chiller
    ///                    --baseline 2026-06-10..2026-07-24 --reporting 2026-07-25..2026-09-07
    ///                    --html chiller-savings.html
    /// From a CSV file: kilowatch-gateway mv --csv meter.csv --time time --energy kwh
    ///                    --temp oat --temp-unit F --baseline 2016-01-01..2016-12-31
    ///                    --reporting 2017-01-01..2017-06-30 --json
    #[command(verbatim_doc_comment)]
    Mv(Box<MvArgs>),
    /// Evaluate the site's M&V plans (`[[mv_plans]]`: a baseline, a reporting start, a savings
    /// guarantee per contract year) on the store now: every completed billing month and its
    /// contract year to date (results already stored for unchanged data are reused), then
    /// print each contract year's savings against the guarantee and the confidence it is met.
    ///
    /// Example: kilowatch-gateway mv-plan --config site.toml --plan chiller-retrofit
    ///            --html chiller-guarantee.html
    #[command(verbatim_doc_comment)]
    MvPlan {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Overrides `gateway.database` from the site file.
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Only this plan (its id in the site file).
        #[arg(long, value_name = "ID")]
        plan: Option<String>,
        /// Write the plan's self-contained HTML report here (needs --plan when the site has
        /// several plans).
        #[arg(long, value_name = "OUT")]
        html: Option<PathBuf>,
        /// Print the result as JSON (the API's format).
        #[arg(long)]
        json: bool,
    },
    /// Serve simulated Modbus devices for every `[devices.simulate]` entry of a site file, at
    /// the addresses the file gives, until stopped.
    Simulate {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(clap::Args)]
struct MvArgs {
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

/// A seed-format file read and parsed, its errors naming the flag and the file.
fn read_with<T>(
    flag: &str,
    path: Option<&std::path::Path>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, Usage> {
    path.map(|p| {
        let text = std::fs::read_to_string(p)
            .map_err(|e| Usage(format!("--{flag}: cannot read {}: {e}", p.display())))?;
        parse(&text).map_err(|e| Usage(format!("--{flag}: {}: {e}", p.display())))
    })
    .transpose()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Demo {
                http,
                data,
                history,
                access_token_file,
            } => {
                check_demo_token(http, access_token_file.as_deref())?;
                demo::run(
                    demo::DemoOptions {
                        http,
                        data,
                        history,
                        access_token_file,
                    },
                    shutdown_signal(),
                )
                .await
            }
            Command::Run {
                config,
                http,
                db,
                client_id,
                share_group,
            } => {
                let profiles = ProfileLibrary::builtin();
                let mut site = SiteConfig::load(&config, &profiles)?;
                let assets = Assets::from_site(&site, &config.display().to_string())?;
                if let Some(h) = http {
                    site.gateway.http = h;
                }
                if client_id.is_some() {
                    site.mqtt.gateway_client_id = client_id;
                }
                if share_group.is_some() {
                    site.gateway.share_group = share_group;
                }
                site.check_mqtt_access()?;
                site.check_gateway_access(site.gateway.http)?;
                let db = db.unwrap_or_else(|| PathBuf::from(&site.gateway.database));
                let listener = http::bind(site.gateway.http).await?;
                println!("kilowatch gateway: http://{}/", listener.local_addr()?);
                service::run(site, assets, db, listener, shutdown_signal()).await
            }
            Command::Mv(args) => {
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
                } = *args;
                use kilowatch_gateway::enpi::{emission::EmissionFactors, tariff::Tariff};
                if contract_kw.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
                    return Err(Usage("--contract-kw: must be above 0".into()).into());
                }
                let options = kilowatch_gateway::mv::Options {
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
                    pricing: kilowatch_gateway::mv::price::Pricing {
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
                        kilowatch_gateway::mv::normal::NormalYear::parse,
                    )?,
                };
                let usage = |e: kilowatch_gateway::mv::MvError| -> anyhow::Error {
                    match e {
                        kilowatch_gateway::mv::MvError::Input(m) => Usage(m).into(),
                        other => anyhow::Error::new(other),
                    }
                };
                if let Some(path) = bills {
                    return run_bills(BillArgs {
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
                let report = if let Some(path) = csv {
                    let (Some(time), [energy]) = (time, energy.as_slice()) else {
                        return Err(Usage(
                            "--csv needs --time COL and one --energy COL".to_owned(),
                        )
                        .into());
                    };
                    let tz = tz
                        .map(|t| {
                            t.parse::<chrono_tz::Tz>()
                                .map_err(|_| Usage(format!("--tz: `{t}` is not a time zone (e.g. Asia/Taipei, America/Chicago)")))
                        })
                        .transpose()?;
                    let cols = kilowatch_gateway::mv::input::CsvColumns {
                        time,
                        energy: energy.clone(),
                        temp,
                        vars: vars
                            .iter()
                            .map(|v| kilowatch_gateway::mv::frame::VarSpec::parse(v))
                            .collect::<Result<_, _>>()
                            .map_err(Usage)?,
                    };
                    kilowatch_gateway::mv::from_csv(&path, &cols, tz, &options).map_err(usage)?
                } else {
                    let config = config.expect("clap requires --config without --csv");
                    let profiles = ProfileLibrary::builtin();
                    let file = config.display().to_string();
                    let site = SiteConfig::load(&config, &profiles)?;
                    let assets = Assets::from_site(&site, &file)?;
                    let db = db.unwrap_or_else(|| PathBuf::from(&site.gateway.database));
                    if !db.exists() {
                        return Err(Usage(format!(
                            "no database at {} (run the gateway first, or give --db)",
                            db.display()
                        ))
                        .into());
                    }
                    let store = Store::open(&db)?;
                    let query = kilowatch_gateway::mv::input::StoreQuery {
                        asset,
                        energy,
                        temp,
                        vars,
                        no_temp,
                    };
                    tokio::task::block_in_place(|| {
                        kilowatch_gateway::mv::from_store(&store, &assets, &query, &options)
                    })
                    .map_err(usage)?
                };
                if let Some(out) = &html {
                    std::fs::write(out, kilowatch_gateway::mv::html::render(&report))
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
                    eprintln!("report written to {}", out.display());
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print_mv(&report);
                }
                Ok(())
            }
            Command::Enpi {
                config,
                db,
                asset,
                from,
                to,
                step,
                json,
                csv,
                recompute,
            } => {
                let profiles = ProfileLibrary::builtin();
                let file = config.display().to_string();
                let site = SiteConfig::load(&config, &profiles)?;
                let assets = Assets::from_site(&site, &file)?;
                let db = db.unwrap_or_else(|| PathBuf::from(&site.gateway.database));
                let tz = site.timezone();
                let time = |name: &str, v: Option<String>| {
                    v.map(|t| {
                        parse_day_or_time(&t, tz).map_err(|e| Usage(format!("--{name}: {e}")))
                    })
                    .transpose()
                };
                let now = chrono::Utc::now();
                let to = time("to", to)?.unwrap_or(now);
                let from = time("from", from)?.unwrap_or(to - chrono::Duration::hours(24));
                if from >= to {
                    return Err(Usage("--from must be before --to".into()).into());
                }
                let span = (to - from).num_milliseconds();
                let step = step
                    .map(|s| Step::parse(&s).map_err(|e| Usage(format!("--step: {e}"))))
                    .transpose()?
                    .unwrap_or(Step::for_span(span));
                step.check_span(span)
                    .map_err(|e| Usage(format!("--step: {e}")))?;
                if !db.exists() {
                    return Err(Usage(format!(
                        "no database at {} (run the gateway first, or give --db)",
                        db.display()
                    ))
                    .into());
                }
                let mut store =
                    Store::open(&db)?.with_settings(StoreSettings::for_site(&site, &profiles));
                if recompute {
                    // Months before the first stored data have nothing to compute: a range
                    // from year 1 costs no more than one from the start of the data.
                    let first = store
                        .rollup_span()?
                        .map_or(to.timestamp_millis(), |(lo, _)| lo);
                    let from = from.timestamp_millis().max(first);
                    let units = enpi::recompute_units(&assets, from, to.timestamp_millis());
                    let bar = progress_bar(units, "asset-months");
                    let started = std::time::Instant::now();
                    let rows = tokio::task::block_in_place(|| {
                        enpi::recompute(
                            &mut store,
                            &assets,
                            from,
                            to.timestamp_millis(),
                            now.timestamp_millis(),
                            || bar.inc(1),
                        )
                    })?;
                    bar.finish_and_clear();
                    eprintln!(
                        "recomputed {rows} indicator rows for {} assets in {:.2} s",
                        assets.list.len(),
                        started.elapsed().as_secs_f64()
                    );
                }
                let Some(asset) = asset else {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&enpi::list(&assets))?);
                    } else if !recompute {
                        print_assets(&assets, &file);
                    }
                    return Ok(());
                };
                let Some(report) = enpi::read(
                    &store,
                    &assets,
                    &asset,
                    step,
                    from.timestamp_millis(),
                    to.timestamp_millis(),
                )?
                else {
                    let known: Vec<&str> = assets.list.iter().map(|a| a.id()).collect();
                    return Err(Usage(format!(
                        "--asset: no asset `{asset}` in {file} (assets: {})",
                        if known.is_empty() {
                            "none: add [[assets]]".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ))
                    .into());
                };
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else if csv {
                    print!("{}", enpi::to_csv(&report));
                } else {
                    print_report(&report);
                }
                for w in &report.warnings {
                    eprintln!("warning: {w}");
                }
                Ok(())
            }
            Command::MvPlan {
                config,
                db,
                plan,
                html,
                json,
            } => {
                let profiles = ProfileLibrary::builtin();
                let file = config.display().to_string();
                let site = SiteConfig::load(&config, &profiles)?;
                let assets = Assets::from_site(&site, &file)?;
                let db = db.unwrap_or_else(|| PathBuf::from(&site.gateway.database));
                tokio::task::block_in_place(|| mv_plan(&assets, &file, &db, plan, html, json))
            }
            Command::Simulate { config } => {
                let profiles = ProfileLibrary::builtin();
                let site = SiteConfig::load(&config, &profiles)?;
                let file = config.display().to_string();
                let served = sim::start(&site, &file, &profiles, sim::Bind::Configured).await?;
                if served.is_empty() {
                    return Err(ConfigError {
                        file,
                        key: Some("devices".into()),
                        what: "no device has a [devices.simulate] table".into(),
                        line: None,
                    }
                    .into());
                }
                for s in &served {
                    println!("simulating {} on {}", s.device, s.addr);
                }
                shutdown_signal().await;
                Ok(())
            }
            Command::Import { config, db, csv } => {
                let profiles = ProfileLibrary::builtin();
                let site = SiteConfig::load(&config, &profiles)?;
                let db = db.unwrap_or_else(|| PathBuf::from(&site.gateway.database));
                let polls = csvio::read_polls(&csv, &site.site.id, site.timezone())?;
                let mut store =
                    Store::open(&db)?.with_settings(StoreSettings::for_site(&site, &profiles));
                let rows = polls.len();
                let samples = tokio::task::block_in_place(|| csvio::import(&mut store, polls))?;
                println!(
                    "imported {samples} values ({rows} device timestamps) from {} into {}",
                    csv.display(),
                    db.display()
                );
                Ok(())
            }
            Command::Export {
                config,
                db,
                series,
                from,
                to,
                step,
                out,
            } => {
                let profiles = ProfileLibrary::builtin();
                let site = SiteConfig::load(&config, &profiles)?;
                let db = db.unwrap_or_else(|| PathBuf::from(&site.gateway.database));
                let tz = site.timezone();
                let time =
                    |name: &str, v: Option<String>, default: chrono::DateTime<chrono::Utc>| {
                        v.map_or(Ok(default), |t| {
                            csvio::parse_ts(&t, tz).map_err(|e| Usage(format!("--{name}: {e}")))
                        })
                    };
                let now = chrono::Utc::now();
                let to = time("to", to, now)?;
                let from = time("from", from, to - chrono::Duration::hours(24))?;
                let res = match step.as_deref() {
                    None => 0,
                    Some("1m") => 60,
                    Some("15m") => 900,
                    Some("1h") => 3600,
                    Some("1d") => 86_400,
                    Some(other) => {
                        return Err(
                            Usage(format!("--step: `{other}`: use 1m, 15m, 1h or 1d")).into()
                        )
                    }
                };
                let store = Store::open(&db)?;
                let Some(info) = store.find_series(&series)? else {
                    let known: Vec<String> = store
                        .series()?
                        .iter()
                        .take(10)
                        .map(|s| format!("{}/{}/{}", s.site, s.device, s.quantity))
                        .collect();
                    return Err(Usage(format!(
                        "--series: no series `{series}` in {} (e.g. {})",
                        db.display(),
                        known.join(", ")
                    ))
                    .into());
                };
                let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
                let n = match out {
                    Some(path) => {
                        let mut f = std::fs::File::create(&path)
                            .map_err(|e| anyhow::anyhow!("--out {}: {e}", path.display()))?;
                        csvio::export(&store, &info, from, to, res, &mut f)?
                    }
                    None => {
                        csvio::export(&store, &info, from, to, res, &mut std::io::stdout().lock())?
                    }
                };
                eprintln!("exported {n} rows");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if e.is::<ConfigError>()
                || e.is::<BindError>()
                || e.is::<csvio::CsvError>()
                || e.is::<Usage>() =>
        {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `mv-plan`: evaluates the plans now and prints them.
fn mv_plan(
    assets: &Assets,
    file: &str,
    db: &std::path::Path,
    only: Option<String>,
    html: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    use kilowatch_gateway::mv::{guarantee, plan_eval, plan_html};
    let ids: Vec<&str> = assets.plans.iter().map(|p| p.id.as_str()).collect();
    let plans: Vec<_> = match &only {
        Some(id) => match assets.plans.iter().find(|p| &p.id == id) {
            Some(p) => vec![p],
            None => {
                return Err(Usage(format!(
                    "--plan: no plan `{id}` in {file} (plans: {})",
                    if ids.is_empty() {
                        "none: add [[mv_plans]]".to_owned()
                    } else {
                        ids.join(", ")
                    }
                ))
                .into())
            }
        },
        None => assets.plans.iter().collect(),
    };
    if plans.is_empty() {
        return Err(Usage(format!("{file} defines no [[mv_plans]]")).into());
    }
    if html.is_some() && plans.len() > 1 {
        return Err(Usage(format!(
            "--html: name one plan with --plan ({})",
            ids.join(", ")
        ))
        .into());
    }
    if !db.exists() {
        return Err(Usage(format!(
            "no database at {} (run the gateway first, or give --db)",
            db.display()
        ))
        .into());
    }
    let mut store = Store::open(db)?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut out = Vec::new();
    for p in plans {
        let o = plan_eval::evaluate(&mut store, assets, p, now, usize::MAX)?;
        eprintln!(
            "{}: {} periods computed, {} reused",
            p.id, o.computed, o.reused
        );
        out.push(guarantee::plan_status(&store, p)?);
    }
    if let (Some(path), [one]) = (&html, out.as_slice()) {
        std::fs::write(path, plan_html::render(one))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    if json {
        let text = match (&only, out.as_slice()) {
            (Some(_), [one]) => serde_json::to_string_pretty(one)?,
            _ => serde_json::to_string_pretty(&out)?,
        };
        println!("{text}");
    } else {
        for p in &out {
            print!("{}", plan_html::text(p));
        }
    }
    Ok(())
}

/// The demo serves a network address only with a readable, non-empty token file.
fn check_demo_token(http: SocketAddr, token_file: Option<&std::path::Path>) -> Result<(), Usage> {
    let Some(path) = token_file else {
        if http.ip().is_loopback() {
            return Ok(());
        }
        return Err(Usage(format!(
            "--http {http} is reachable from the network, so the API needs an access token: \
             give --access-token-file FILE (the token on its first line), or stay on loopback, \
             e.g. --http 127.0.0.1:{}",
            http.port()
        )));
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Usage(format!(
            "--access-token-file: cannot read {}: {e}",
            path.display()
        ))
    })?;
    if text.lines().next().unwrap_or("").trim().is_empty() {
        return Err(Usage(format!(
            "--access-token-file: {} is empty",
            path.display()
        )));
    }
    Ok(())
}

struct BillArgs {
    path: PathBuf,
    config: Option<PathBuf>,
    db: Option<PathBuf>,
    device: Option<String>,
    temp: Option<String>,
    temp_csv: Option<PathBuf>,
    temp_col: String,
    temp_time: String,
    tz: Option<String>,
    json: bool,
    options: kilowatch_gateway::mv::Options,
}

/// `mv --bills`: savings from utility bills.
fn run_bills(a: BillArgs) -> anyhow::Result<()> {
    use kilowatch_gateway::mv::{billing, frame::Zone, MvError};
    let usage = |e: MvError| -> anyhow::Error {
        match e {
            MvError::Input(m) => Usage(m).into(),
            other => anyhow::Error::new(other),
        }
    };
    let tz =
        a.tz.map(|t| {
            t.parse::<chrono_tz::Tz>()
                .map_err(|_| Usage(format!("--tz: `{t}` is not a time zone (e.g. Asia/Taipei)")))
        })
        .transpose()?;
    let report = if let Some(config) = a.config {
        let site = SiteConfig::load(&config, &ProfileLibrary::builtin())?;
        let assets = Assets::from_site(&site, &config.display().to_string())?;
        let db =
            a.db.unwrap_or_else(|| PathBuf::from(&site.gateway.database));
        if !db.exists() {
            return Err(Usage(format!(
                "no database at {} (run the gateway first, give --db, or use --temp-csv)",
                db.display()
            ))
            .into());
        }
        let store = Store::open(&db)?;
        let temps = billing::TempSource::Store {
            store: &store,
            assets: &assets,
            series: a.temp.as_deref(),
        };
        let zone = Zone::Named(tz.unwrap_or(assets.timezone));
        tokio::task::block_in_place(|| {
            billing::from_bills(&a.path, zone, a.device.as_deref(), temps, &a.options)
        })
        .map_err(usage)?
    } else {
        let temps = match &a.temp_csv {
            Some(p) => billing::TempSource::Csv {
                path: p,
                time: &a.temp_time,
                column: &a.temp_col,
            },
            None => billing::TempSource::None,
        };
        let zone = Zone::Named(tz.unwrap_or(chrono_tz::UTC));
        billing::from_bills(&a.path, zone, a.device.as_deref(), temps, &a.options).map_err(usage)?
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let u = &report.energy_unit;
    let m = &report.model;
    println!("{}", report.savings.verdict);
    println!(
        "model {} on {} bills: R² {:.3}, adj. R² {:.3}, CV(RMSE) {}",
        m.form,
        m.n,
        m.r2,
        m.adj_r2,
        m.cv_rmse.map(|v| format!("{v:.1} %")).unwrap_or("—".into()),
    );
    println!(
        "reporting: {} bills, actual {:.0} {u}, adjusted baseline {:.0} {u}, avoided {:.0} {u}",
        report.reporting.n,
        report.reporting.actual,
        report.reporting.adjusted_baseline.unwrap_or_default(),
        report.savings.avoided
    );
    for w in &report.warnings {
        println!("warning: {w}");
    }
    Ok(())
}

/// The human summary of a savings verification.
fn print_mv(r: &kilowatch_gateway::mv::Report) {
    let u = &r.energy_unit;
    let m = &r.model;
    println!("{}", r.savings.verdict);
    println!(
        "model {} on {} {}s: R² {:.3}, adj. R² {:.3}, CV(RMSE) {}{}",
        m.form,
        m.n,
        r.granularity.code(),
        m.r2,
        m.adj_r2,
        m.cv_rmse.map(|v| format!("{v:.1} %")).unwrap_or("—".into()),
        if m.valid {
            ""
        } else {
            " (a validity check failed)"
        }
    );
    if let Some(p) = &r.placebo {
        match p.false_positive_percent {
            Some(rate) => println!(
                "placebo back-test: {} of {} baseline windows called verified ({rate:.0} %, nominal {:.0} %)",
                p.verified, p.windows, p.nominal_percent
            ),
            None => println!("placebo back-test: {}", p.note.as_deref().unwrap_or("not run")),
        }
    }
    println!(
        "reporting: actual {:.0} {u}, adjusted baseline {:.0} {u}, avoided {:.0} {u}",
        r.reporting.actual,
        r.reporting.adjusted_baseline.unwrap_or_default(),
        r.savings.avoided
    );
    if let Some(p) = &r.priced {
        let symbol = if p.currency == "TWD" {
            "NT$"
        } else {
            &p.currency
        };
        println!(
            "avoided cost {symbol} {:.0} (energy {:.0}, demand {}, power factor {:.0}), CO2e {}",
            p.total,
            p.energy_cost,
            p.demand_cost
                .map(|d| format!("{d:.0}"))
                .unwrap_or("not priced".into()),
            p.pf_adjustment,
            p.co2e_kg
                .map(|kg| format!("{:.2} t", kg / 1000.0))
                .unwrap_or("— (no emission factors)".into())
        );
    }
    if let Some(n) = &r.normalized {
        match (n.savings, n.percent) {
            (Some(s), p) => println!(
                "normalized savings ({}): {s:.0} {u} a year{} (baseline model {:.0}, reporting model {:.0})",
                n.weather_year,
                p.map(|p| format!(", {p:.1} %")).unwrap_or_default(),
                n.baseline_annual.unwrap_or_default(),
                n.reporting_annual.unwrap_or_default()
            ),
            (None, _) => println!("normalized savings: none ({})", n.note),
        }
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
}

/// `2026-10-01` (plant-local midnight), `2026-10-01 08:00` or RFC 3339.
fn parse_day_or_time(
    text: &str,
    tz: chrono_tz::Tz,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        use chrono::{Datelike, TimeZone};
        if !(1..=9999).contains(&day.year()) {
            return Err(format!("`{text}`: use a year from 1 to 9999"));
        }
        return tz
            .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok_or(format!("`{text}`: no such local time"));
    }
    csvio::parse_ts(text, tz)
}

fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what}, {{eta}} left"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn print_assets(assets: &Assets, file: &str) {
    if assets.list.is_empty() {
        println!("{file} defines no [[assets]]; see README.md (Energy-performance indicators).");
        return;
    }
    for info in enpi::list(assets) {
        println!(
            "{} ({}){}",
            info.id,
            info.kind,
            info.name.map_or(String::new(), |n| format!(": {n}"))
        );
        for d in info.indicators {
            println!("  {:<24} {:<14} {}", d.name, d.unit, d.description);
        }
    }
}

fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if (v.fract() == 0.0 && a < 1e15) || a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn print_report(r: &enpi::Report) {
    println!(
        "{} ({}) {} .. {}, step {}, {} intervals ({})",
        r.asset,
        r.kind,
        r.from.format("%Y-%m-%d %H:%M UTC"),
        r.to.format("%Y-%m-%d %H:%M UTC"),
        r.step,
        r.rows.len(),
        r.timezone
    );
    println!("\nwhole range:");
    for d in &r.indicators {
        match (
            r.summary.values.get(&d.name),
            r.summary.missing.get(&d.name),
        ) {
            (Some(v), _) => println!("  {:<24} {:>14} {}", d.name, fmt_value(*v), d.unit),
            (None, Some(why)) => println!("  {:<24} {:>14} ({why})", d.name, "-"),
            (None, None) => {}
        }
    }
    if !r.rows.is_empty() {
        println!("\nper interval: --csv or --json");
    }
}
