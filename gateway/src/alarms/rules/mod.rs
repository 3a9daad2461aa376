//! The rule families: what each watches and how its value is computed.

pub mod data;
pub mod demand;
pub mod efficiency;
pub mod window_mean;
