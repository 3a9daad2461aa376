//! The checks a profile passes when it is loaded, so that decoding never meets a bad unit,
//! quantity, address or flag.

use super::bits::flag_problem;
use super::info::InfoType;
use super::{Profile, ProfileError, RegisterDef};
use crate::decode::DataType;
use crate::vocab;

impl Profile {
    pub(super) fn check(&self) -> Result<(), ProfileError> {
        let err = |index: usize, r: &RegisterDef, message: String| ProfileError::Register {
            profile: self.name.clone(),
            index,
            quantity: r.quantity.clone(),
            message,
        };
        if self.address_base > 1 {
            return Err(ProfileError::Parse {
                origin: self.name.clone(),
                message: "address_base must be 0 or 1".into(),
            });
        }
        if self.registers.is_empty() && self.channels.is_empty() {
            return Err(ProfileError::Parse {
                origin: self.name.clone(),
                message: "a profile needs `registers` or `channels`".into(),
            });
        }
        for c in &self.channels {
            if c.raw_low == c.raw_high || c.signal_low == c.signal_high {
                return Err(ProfileError::Parse {
                    origin: self.name.clone(),
                    message: format!("channel {}: empty raw or signal span", c.channel),
                });
            }
        }
        for f in &self.info {
            let bad = |message: String| ProfileError::Parse {
                origin: self.name.clone(),
                message: format!("info `{}`: {message}", f.name),
            };
            if f.table.is_bits() {
                return Err(bad("identification fields live in registers".into()));
            }
            match (f.data_type, f.length) {
                (InfoType::String, Some(1..=64)) | (InfoType::U16 | InfoType::U32, None) => {}
                (InfoType::String, _) => {
                    return Err(bad("a string needs `length` = 1-64 registers".into()))
                }
                _ => return Err(bad("`length` is only for strings".into())),
            }
            if f.address < u16::from(self.address_base) {
                return Err(bad(format!(
                    "address below address_base {}",
                    self.address_base
                )));
            }
        }
        for (i, r) in self.registers.iter().enumerate() {
            let q = vocab::quantity(&r.quantity).map_err(|e| err(i, r, e.to_string()))?;
            vocab::convert(1.0, &r.unit, q.unit).map_err(|e| err(i, r, e.to_string()))?;
            if r.address < u16::from(self.address_base) {
                return Err(err(
                    i,
                    r,
                    format!("address below address_base {}", self.address_base),
                ));
            }
            if r.table.is_bits() && r.data_type != DataType::Bool {
                return Err(err(
                    i,
                    r,
                    "coils and discrete inputs hold bools only".into(),
                ));
            }
            if r.scale == 0.0 || !r.scale.is_finite() {
                return Err(err(i, r, "scale must be a finite, non-zero number".into()));
            }
            if let Some(message) = flag_problem(r, q) {
                return Err(err(i, r, message));
            }
        }
        Ok(())
    }
}
