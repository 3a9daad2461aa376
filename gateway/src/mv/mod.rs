//! Savings verification (M&V, IPMVP Options B and C, ASHRAE Guideline 14): source (CSV rows or
//! store quarter-hours, aggregated into periods) → baseline model (candidates, qualification,
//! selection) → adjusted baseline and savings with their uncertainty → JSON or an HTML report.

pub mod analysis;
pub mod changepoint;
pub mod dist;
pub mod frame;
pub mod input;
pub mod model;
pub mod ols;
pub mod savings;
#[cfg(test)]
mod tests;

pub use analysis::{analyse, MvError, Report, Request};
