//! Per-device factors the site file sets on top of a profile: the ratios of the current and
//! voltage transformers a meter is wired through when the meter itself does not know them
//! (`ct_ratio = 200` for a 1000/5 A CT), and plain per-quantity factors
//! (`scale = { active_power = 0.001 }` for a PLC that reports W in a kW profile).

use std::collections::BTreeMap;

use super::Profile;
use crate::vocab::{self, Dimension};

/// The factors of one device; `Default` changes nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scaling {
    pub ct_ratio: Option<f64>,
    pub pt_ratio: Option<f64>,
    /// Quantity name → factor.
    pub scale: BTreeMap<String, f64>,
}

/// A bad factor: `key` is the site-file key at fault (`ct_ratio`, `scale.active_power`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingError {
    pub key: String,
    pub message: String,
}

impl Scaling {
    pub fn is_identity(&self) -> bool {
        self.ct_ratio.is_none() && self.pt_ratio.is_none() && self.scale.is_empty()
    }

    /// The transformer factor for a quantity: currents × CT, voltages × PT, active, reactive
    /// and apparent powers and energies × CT·PT. Thermal power and heat share the power and
    /// energy dimensions but no transformer, so only the `active_*` quantities count there.
    fn transformer_factor(&self, q: &vocab::Quantity) -> f64 {
        let ct = self.ct_ratio.unwrap_or(1.0);
        let pt = self.pt_ratio.unwrap_or(1.0);
        let Some(unit) = vocab::unit(q.unit) else {
            return 1.0;
        };
        match unit.dimension {
            Dimension::Current => ct,
            Dimension::Voltage => pt,
            Dimension::ReactivePower
            | Dimension::ApparentPower
            | Dimension::ReactiveEnergy
            | Dimension::ApparentEnergy => ct * pt,
            Dimension::Power | Dimension::Energy if q.name.starts_with("active_") => ct * pt,
            _ => 1.0,
        }
    }
}

fn check_factor(key: &str, v: f64) -> Result<(), ScalingError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ScalingError {
            key: key.to_owned(),
            message: format!("{v} is not a factor: give a positive, finite number"),
        })
    }
}

impl Profile {
    /// The profile with a device's factors applied to its registers' scale and offset.
    pub fn scaled(&self, s: &Scaling) -> Result<Profile, ScalingError> {
        if s.is_identity() {
            return Ok(self.clone());
        }
        for (key, v) in [("ct_ratio", s.ct_ratio), ("pt_ratio", s.pt_ratio)] {
            if let Some(v) = v {
                check_factor(key, v)?;
            }
        }
        for (name, &v) in &s.scale {
            let key = format!("scale.{name}");
            check_factor(&key, v)?;
            vocab::quantity(name).map_err(|e| ScalingError {
                key: key.clone(),
                message: e.to_string(),
            })?;
            if !self.registers.iter().any(|r| &r.quantity == name) {
                return Err(ScalingError {
                    key,
                    message: format!("profile `{}` does not measure `{name}`", self.name),
                });
            }
        }
        let mut p = self.clone();
        let mut transformed = false;
        for r in &mut p.registers {
            // Profiles were checked at load: every register's quantity is known.
            let Ok(q) = vocab::quantity(&r.quantity) else {
                continue;
            };
            if r.flag_mask().is_some() {
                continue;
            }
            let t = s.transformer_factor(q);
            transformed |= t != 1.0;
            let f = t * s.scale.get(&r.quantity).copied().unwrap_or(1.0);
            r.scale *= f;
            r.offset *= f;
        }
        if (s.ct_ratio.is_some() || s.pt_ratio.is_some()) && !transformed {
            let key = if s.ct_ratio.is_some() {
                "ct_ratio"
            } else {
                "pt_ratio"
            };
            return Err(ScalingError {
                key: key.into(),
                message: format!(
                    "profile `{}` measures no current, voltage, power or energy the ratio could apply to",
                    self.name
                ),
            });
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ProfileLibrary, Value};

    fn read(p: &Profile, quantity: &str, canonical_on_wire: f64) -> f64 {
        // Words the unscaled profile would produce for `canonical_on_wire`, read through `p`.
        let base = ProfileLibrary::builtin();
        let base = base.get(&p.name).unwrap();
        let r0 = base
            .registers
            .iter()
            .find(|r| r.quantity == quantity)
            .unwrap();
        let words = r0.from_canonical(canonical_on_wire, base.order(r0));
        let r = p.registers.iter().find(|r| r.quantity == quantity).unwrap();
        match r.to_canonical(&words, p.order(r)).unwrap() {
            Value::Good(v) => v,
            v => panic!("{v:?}"),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn transformer_ratios_reach_the_right_quantities() {
        let lib = ProfileLibrary::builtin();
        let sdm = lib.get("eastron-sdm630").unwrap();
        let s = Scaling {
            ct_ratio: Some(200.0),
            pt_ratio: Some(110.0),
            scale: BTreeMap::new(),
        };
        let p = sdm.scaled(&s).unwrap();
        // Secondary side: 4.5 A, 100 V, 0.45 kW, 12 kWh, 50 Hz, PF 0.9.
        assert!(close(read(&p, "current_l1", 4.5), 900.0));
        assert!(close(read(&p, "voltage_l1", 100.0), 11_000.0));
        assert!(close(read(&p, "active_power", 0.45), 0.45 * 22_000.0));
        assert!(close(
            read(&p, "active_energy_import", 12.0),
            12.0 * 22_000.0
        ));
        assert!(close(read(&p, "frequency", 50.0), 50.0));
        assert!(close(read(&p, "power_factor", 0.9), 0.9));
    }

    #[test]
    fn a_plain_factor_applies_to_its_quantity_only() {
        let lib = ProfileLibrary::builtin();
        let sdm = lib.get("eastron-sdm630").unwrap();
        let s = Scaling {
            scale: [("active_power".to_owned(), 0.001)].into(),
            ..Scaling::default()
        };
        let p = sdm.scaled(&s).unwrap();
        assert!(close(read(&p, "active_power", 2500.0), 2.5));
        assert!(close(read(&p, "voltage_l1", 230.0), 230.0));
        assert_eq!(
            sdm.scaled(&Scaling::default()).unwrap().registers.len(),
            sdm.registers.len()
        );
    }

    #[test]
    fn bad_factors_name_their_key() {
        let lib = ProfileLibrary::builtin();
        let sdm = lib.get("eastron-sdm630").unwrap();
        let err = |s: Scaling| sdm.scaled(&s).unwrap_err();
        for bad in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            let e = err(Scaling {
                ct_ratio: Some(bad),
                ..Scaling::default()
            });
            assert_eq!(e.key, "ct_ratio", "{bad}");
        }
        let e = err(Scaling {
            pt_ratio: Some(-1.0),
            ..Scaling::default()
        });
        assert_eq!(e.key, "pt_ratio");
        let e = err(Scaling {
            scale: [("active_powr".to_owned(), 2.0)].into(),
            ..Scaling::default()
        });
        assert_eq!(e.key, "scale.active_powr");
        assert!(e.message.contains("unknown quantity"), "{}", e.message);
        let e = err(Scaling {
            scale: [("steam_flow".to_owned(), 2.0)].into(),
            ..Scaling::default()
        });
        assert!(e.message.contains("does not measure"), "{}", e.message);
        let e = err(Scaling {
            scale: [("active_power".to_owned(), 0.0)].into(),
            ..Scaling::default()
        });
        assert_eq!(e.key, "scale.active_power");
        // A ratio on a device with nothing electrical to apply it to.
        let counter = lib.get("generic-plc-counter").unwrap();
        let e = counter
            .scaled(&Scaling {
                ct_ratio: Some(40.0),
                ..Scaling::default()
            })
            .unwrap_err();
        assert_eq!(e.key, "ct_ratio");
    }
}
