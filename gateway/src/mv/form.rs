//! The vocabulary of baseline models: the temperature unit, the model forms and their
//! calendar variants (day types, seasons), with their codes on the command line and in reports.

use serde::Serialize;

use super::changepoint::Form as Cp;

/// The unit of the temperature driver (balance-point grids are defined in °F by CalTRACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TempUnit {
    #[serde(rename = "°C")]
    C,
    #[serde(rename = "°F")]
    F,
}

impl TempUnit {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "C" | "c" | "°C" => Ok(Self::C),
            "F" | "f" | "°F" => Ok(Self::F),
            _ => Err(format!("`{text}` is not a temperature unit (C or F)")),
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::C => "°C",
            Self::F => "°F",
        }
    }

    /// °F to this unit.
    pub(crate) fn of_fahrenheit(self, f: f64) -> f64 {
        match self {
            Self::C => (f - 32.0) * 5.0 / 9.0,
            Self::F => f,
        }
    }

    /// A temperature difference of `df` °F in this unit.
    pub(crate) fn delta_from_f(self, df: f64) -> f64 {
        match self {
            Self::C => df * 5.0 / 9.0,
            Self::F => df,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// E = b0.
    Mean,
    /// E = b0 + Σ bj·varj.
    Linear,
    /// E = b0 + bt·T + Σ bj·varj.
    TwoP,
    ChangePoint(Cp),
    /// CalTRACK daily: UPD = μ + βH·HDD + βC·CDD (one or both terms).
    CalTrack {
        hdd: bool,
        cdd: bool,
    },
    /// Hour-of-week indicators plus piecewise-linear temperature (hourly data).
    TowTemp,
    /// CalTRACK 2 hourly: hour-of-week indicators plus separate piecewise-linear temperature
    /// terms for occupied and unoccupied hours of the week.
    TowTempOcc,
}

pub const FORMS: &[&str] = &[
    "mean",
    "linear",
    "2p",
    "3p-cooling",
    "3p-heating",
    "4p",
    "5p",
    "caltrack-hdd",
    "caltrack-cdd",
    "caltrack-hdd-cdd",
    "tow-temp",
    "tow-temp-occupancy",
];

impl Form {
    pub fn code(self) -> &'static str {
        match self {
            Form::Mean => "mean",
            Form::Linear => "linear",
            Form::TwoP => "2p",
            Form::ChangePoint(Cp::ThreeCooling) => "3p-cooling",
            Form::ChangePoint(Cp::ThreeHeating) => "3p-heating",
            Form::ChangePoint(Cp::Four) => "4p",
            Form::ChangePoint(Cp::Five) => "5p",
            Form::CalTrack {
                hdd: true,
                cdd: false,
            } => "caltrack-hdd",
            Form::CalTrack { hdd: false, .. } => "caltrack-cdd",
            Form::CalTrack { .. } => "caltrack-hdd-cdd",
            Form::TowTemp => "tow-temp",
            Form::TowTempOcc => "tow-temp-occupancy",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "mean" => Form::Mean,
            "linear" => Form::Linear,
            "2p" => Form::TwoP,
            "3p-cooling" => Form::ChangePoint(Cp::ThreeCooling),
            "3p-heating" => Form::ChangePoint(Cp::ThreeHeating),
            "4p" => Form::ChangePoint(Cp::Four),
            "5p" => Form::ChangePoint(Cp::Five),
            "caltrack-hdd" => Form::CalTrack {
                hdd: true,
                cdd: false,
            },
            "caltrack-cdd" => Form::CalTrack {
                hdd: false,
                cdd: true,
            },
            "caltrack-hdd-cdd" => Form::CalTrack {
                hdd: true,
                cdd: true,
            },
            "tow-temp" => Form::TowTemp,
            "tow-temp-occupancy" => Form::TowTempOcc,
            _ => {
                return Err(format!(
                    "`{text}` is not a model form (one of {}; daily forms but CalTRACK's take +daytype and +season)",
                    FORMS.join(", ")
                ))
            }
        })
    }

    pub fn uses_temp(self) -> bool {
        !matches!(self, Form::Mean | Form::Linear)
    }

    /// Time-of-week forms: judged as a whole, not by the p-value of each indicator.
    pub fn is_tow(self) -> bool {
        matches!(self, Form::TowTemp | Form::TowTempOcc)
    }

    pub fn uses_vars(self) -> bool {
        !matches!(self, Form::Mean | Form::CalTrack { .. })
    }
}

/// A form with its calendar terms: day-type indicators (Saturday, Sunday, the plant's
/// holidays) and season indicators, both for daily data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub form: Form,
    pub daytype: bool,
    pub season: bool,
}

impl Spec {
    pub fn plain(form: Form) -> Self {
        Self {
            form,
            daytype: false,
            season: false,
        }
    }

    /// `3p-cooling`, `mean+daytype`, `linear+daytype+season`.
    pub fn code(self) -> String {
        let mut s = self.form.code().to_owned();
        if self.daytype {
            s.push_str("+daytype");
        }
        if self.season {
            s.push_str("+season");
        }
        s
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split('+');
        let mut spec = Self::plain(Form::parse(parts.next().unwrap_or_default())?);
        for p in parts {
            match p {
                "daytype" if !spec.daytype => spec.daytype = true,
                "season" if !spec.season => spec.season = true,
                _ => {
                    return Err(format!(
                        "`{text}`: `+{p}` is not a calendar term (write +daytype and/or +season once each)"
                    ))
                }
            }
        }
        if (spec.daytype || spec.season)
            && matches!(
                spec.form,
                Form::TowTemp | Form::TowTempOcc | Form::CalTrack { .. }
            )
        {
            return Err(format!(
                "`{text}`: calendar terms apply to the mean, linear, 2P and change-point forms"
            ));
        }
        Ok(spec)
    }
}
