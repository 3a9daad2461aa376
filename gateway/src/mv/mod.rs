//! Savings verification (M&V, IPMVP Options B and C, ASHRAE Guideline 14), built as a library
//! first: distributions and least squares with their statistics. Models, savings and reports
//! build on these (issue 8).

pub mod dist;
pub mod ols;
