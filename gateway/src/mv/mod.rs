//! Savings verification (M&V, IPMVP Options B and C, ASHRAE Guideline 14), built as a library
//! first: distributions, least squares with their statistics, and temperature change-point
//! models. Model selection, savings, uncertainty and reports build on these (issue 8).

pub mod changepoint;
pub mod dist;
pub mod frame;
pub mod model;
pub mod ols;
