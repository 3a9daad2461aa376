//! The commands of `kilowatch-gateway`, one module each, and the arguments they share.

mod args;
mod baseline;
mod contract;
mod demand;
mod demo;
mod dr;
mod enpi;
mod export;
pub mod help;
mod hub;
mod import;
mod lang;
mod mv;
mod mv_bills;
mod mv_plan;
mod notify;
mod report;
mod review;
mod run;
mod simulate;
mod table;
mod usage;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kilowatch_gateway::csvio::CsvError;
use kilowatch_gateway::http::BindError;
use kilowatch_gateway::i18n;
use kilowatch_site::config::ConfigError;

use args::Usage;

/// kilowatch gateway: receives meter readings over MQTT, stores them (SQLite), and serves the
/// HTTP API and live dashboard. `demo` runs a complete simulated plant in one command.
#[derive(Parser)]
#[command(name = "kilowatch-gateway", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Language of reports and messages: en or zh-TW (default: the site file's
    /// `[site] language`, else English).
    #[arg(long, global = true, env = "KILOWATCH_LANG", value_name = "LANG")]
    pub lang: Option<String>,
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        lang::set(self.lang.as_deref())?;
        self.command.run().await
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the whole stack on a simulated plant: device simulators, an embedded MQTT broker,
    /// the agent and the gateway, in one process. Needs no configuration.
    Demo(demo::DemoArgs),
    /// Run the gateway for a site: subscribe to the broker, store readings, serve the API.
    Run(run::RunArgs),
    /// Import readings from a CSV file (production log, utility bill, another system) into the
    /// site's database. Columns: ts,device,quantity,value[,unit][,site]; `ts` in RFC 3339 or
    /// plant-local `2026-03-01 08:00`. Importing the same file twice changes nothing.
    Import(import::ImportArgs),
    /// Export one series as CSV (to stdout or --out): raw samples, or rollups with --step.
    Export(export::ExportArgs),
    /// Energy-performance indicators of an asset from the site file's `[[assets]]`: compressor
    /// specific power, loaded %, leakage %; chiller kW/TR, COP, IPLV-style part load; plant kWh,
    /// SEC, demand against contract, load factor, power factor, time-of-use cost, CO2e.
    /// Without --asset, lists the assets and their indicators.
    ///
    /// Example: kilowatch-gateway enpi --config site.toml --asset compressed-air
    ///          --from 2026-10-01 --to 2026-11-01 --step 1d --csv > air.csv
    Enpi(enpi::EnpiArgs),
    /// The energy review of a period (ISO 50001): each use of the site's meter tree (a meter
    /// that feeds no other, and each parent's unmetered remainder) with its energy and share of
    /// the total, ranked (Pareto) with cumulative shares; significant energy uses flagged by
    /// the site's `[review] significant` rule, with their assets' drivers.
    ///
    /// Example: kilowatch-gateway review --config site.toml --from 2026-10-01 --to 2026-11-01
    #[command(verbatim_doc_comment)]
    Review(review::ReviewArgs),
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
    Mv(Box<mv::MvArgs>),
    /// Evaluate the site's M&V plans (`[[mv_plans]]`: a baseline, a reporting start, a savings
    /// guarantee per contract year) on the store now: every completed billing month and its
    /// contract year to date (results already stored for unchanged data are reused), then
    /// print each contract year's savings against the guarantee and the confidence it is met.
    ///
    /// Example: kilowatch-gateway mv-plan --config site.toml --plan chiller-retrofit
    ///            --html chiller-guarantee.html
    #[command(verbatim_doc_comment)]
    MvPlan(mv_plan::MvPlanArgs),
    /// Energy baselines (EnB, ISO 50001 / 50006): `save` fits a model over a period (the
    /// `mv` command's selection) under a name, `show` tracks it month by month (actual,
    /// expected, SEnPI = actual / expected, CUSUM, year over year) and its target with a
    /// forecast of the year's end, `list` and `delete` manage them.
    ///
    /// Example: kilowatch-gateway baseline save --config site.toml --asset plant
    ///            --name plant-2025 --from 2025-01-01 --to 2025-12-31 --target percent:1.5
    ///          kilowatch-gateway baseline show plant-2025 --config site.toml
    #[command(verbatim_doc_comment)]
    Baseline(baseline::BaselineArgs),
    /// Reports as HTML or PDF: `report monthly --month 2026-11` (the monthly
    /// energy-management report), `report ghg --year 2026` (the annual greenhouse-gas summary).
    ///
    /// Example: kilowatch-gateway report monthly --config site.toml --month 2026-11
    ///            --lang zh-TW --pdf 2026-11.pdf
    #[command(verbatim_doc_comment)]
    Report(report::ReportArgs),
    /// Contract capacities (契約容量): `contract optimise` finds the capacities per contract
    /// kind that minimise a year's basic plus over-contract charges.
    Contract(contract::ContractArgs),
    /// Demand management (需量抑低): `demand profile` by tariff period and day type,
    /// `demand events` (the peak quarter-hours and what ran), `demand shave --cut-kw X`.
    Demand(demand::DemandArgs),
    /// Demand-response verification (需量反應): `demand-response list`, `show ID`, `add`:
    /// each event's customer baseline load, delivered reduction and verdict.
    #[command(alias = "dr")]
    DemandResponse(dr::DrArgs),
    /// Alarm notification channels (`[[notifications]]`): `notify test` sends a test message
    /// through them and reports what the mail server or webhook answered.
    Notify(notify::NotifyArgs),
    /// Serve simulated Modbus devices for every `[devices.simulate]` entry of a site file, at
    /// the addresses the file gives, until stopped.
    Simulate(simulate::SimulateArgs),
    /// Run a portfolio hub instance: receive many sites' records (15-minute rollups, EnPIs,
    /// alarm transitions, savings results, data completeness) from an MQTT shared
    /// subscription and keep them in PostgreSQL. Run several with the same share group and
    /// each its own client id: any one may die, the others go on, and what it had not stored
    /// comes back to it when it restarts.
    ///
    /// Example: kilowatch-gateway hub --config hub.toml --client-id hub-1
    #[command(verbatim_doc_comment)]
    Hub(hub::HubArgs),
}

impl Command {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Demo(a) => demo::run(a).await,
            Command::Run(a) => run::run(a).await,
            Command::Import(a) => blocking(move || import::run(a)).await,
            Command::Export(a) => blocking(move || export::run(a)).await,
            Command::Enpi(a) => blocking(move || enpi::run(a)).await,
            Command::Review(a) => blocking(move || review::run(a)).await,
            Command::Mv(a) => blocking(move || mv::run(*a)).await,
            Command::MvPlan(a) => blocking(move || mv_plan::run(a)).await,
            Command::Baseline(a) => blocking(move || baseline::run(a)).await,
            Command::Report(a) => report::run(a).await,
            Command::Contract(a) => blocking(move || contract::run(a)).await,
            Command::Demand(a) => blocking(move || demand::run(a)).await,
            Command::DemandResponse(a) => blocking(move || dr::run(a)).await,
            Command::Notify(a) => notify::run(a).await,
            Command::Simulate(a) => simulate::run(a).await,
            Command::Hub(a) => hub::run(a).await,
        }
    }
}

/// The one-shot commands read and write SQLite and fit models: blocking work, run on the
/// runtime's blocking pool rather than on an async worker.
async fn blocking(f: impl FnOnce() -> anyhow::Result<()> + Send + 'static) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow::anyhow!("the command stopped: {e}"))?
}

/// Configuration and usage errors exit with 2, everything else with 1.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<ConfigError>() || e.is::<CsvError>() => {
            // Said in the user's language from the error's kind, file, key and line.
            let (lang, text) = if let Some(c) = e.downcast_ref::<ConfigError>() {
                let lang = lang::of_error(Some(&c.file));
                (lang, i18n::config_error(lang, c))
            } else if let Some(c) = e.downcast_ref::<CsvError>() {
                let lang = lang::of_error(None);
                (lang, i18n::csv_error(lang, c))
            } else {
                (i18n::Language::English, e.to_string())
            };
            eprintln!("{}", i18n::tr(lang, "cli-error", &[("text", &text)]));
            ExitCode::from(2)
        }
        Err(e) if e.is::<BindError>() || e.is::<Usage>() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
