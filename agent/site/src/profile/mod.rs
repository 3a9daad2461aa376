//! Device profiles: register maps as data (TOML), never code. A built-in library is compiled into
//! the binary; a user directory of `*.toml` files overrides it by profile name.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use crate::decode::{self, DataType, WordOrder};
use crate::vocab;

mod scaling;

pub use scaling::{Scaling, ScalingError};

/// The Modbus table a register lives in; each maps to one read function code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Function code 1.
    Coil,
    /// Function code 2.
    DiscreteInput,
    /// Function code 4.
    Input,
    /// Function code 3.
    Holding,
}

impl Table {
    pub fn is_bits(self) -> bool {
        matches!(self, Table::Coil | Table::DiscreteInput)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub manufacturer: String,
    pub model: String,
    /// The public document the register map was taken from.
    pub source: String,
    /// 0 when `address` values are protocol addresses, 1 when they are the document's 1-based
    /// register numbers (minus the 3xxxx/4xxxx table prefix).
    #[serde(default)]
    pub address_base: u8,
    /// Default word order for multi-register values.
    #[serde(default)]
    pub word_order: WordOrder,
    #[serde(default)]
    pub registers: Vec<RegisterDef>,
    /// Analog input channels whose meaning and range the site file sets per device.
    #[serde(default)]
    pub channels: Vec<ChannelDef>,
    /// Identification fields (model, serial number, firmware): read on demand by
    /// `kilowatch-agent read --info` and `scan`, never published as readings.
    #[serde(default)]
    pub info: Vec<InfoDef>,
}

/// One identification field of a device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoDef {
    /// Field name, e.g. `serial_number`, `model`.
    pub name: String,
    pub table: Table,
    pub address: u16,
    #[serde(rename = "type")]
    pub data_type: InfoType,
    /// Registers a `string` occupies (two characters each).
    pub length: Option<u16>,
    pub order: Option<WordOrder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InfoType {
    String,
    U16,
    U32,
}

impl InfoDef {
    /// Registers to read.
    pub fn words(&self) -> u16 {
        match self.data_type {
            InfoType::String => self.length.unwrap_or(0),
            InfoType::U16 => 1,
            InfoType::U32 => 2,
        }
    }

    /// The field's value from its registers: text, or the number as text.
    pub fn decode(&self, words: &[u16], default_order: WordOrder) -> String {
        let order = self.order.unwrap_or(default_order);
        match self.data_type {
            InfoType::String => decode::decode_string(words, order),
            InfoType::U16 => words.first().map_or(String::new(), |w| w.to_string()),
            InfoType::U32 => decode::decode(words, DataType::U32, order)
                .map(|v| format!("{v}"))
                .unwrap_or_default(),
        }
    }
}

/// How often a register is read: `fast` every poll, `slow` every `slow_interval` of the device
/// (energy counters change slowly and cost bus time on a 9600-baud line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PollClass {
    #[default]
    Fast,
    Slow,
}

/// One analog input channel of an I/O module: raw counts spanning a signal range.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDef {
    pub channel: u8,
    pub table: Table,
    pub address: u16,
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Raw value at the bottom and top of the signal range.
    pub raw_low: f64,
    pub raw_high: f64,
    /// The signal range the raw span covers, e.g. 4 and 20 mA.
    pub signal_low: f64,
    pub signal_high: f64,
    pub signal_unit: String,
}

/// What a site says one channel measures: `range` is the engineering value at the bottom and
/// top of the signal (for a 0-10 bar transmitter on 4-20 mA: `range = [0.0, 10.0]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub channel: u8,
    pub quantity: String,
    pub unit: String,
    pub range: [f64; 2],
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterDef {
    /// Canonical quantity name from the vocabulary.
    pub quantity: String,
    pub table: Table,
    /// Address as written in the profile (see `address_base`).
    pub address: u16,
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Overrides the profile's word order.
    pub order: Option<WordOrder>,
    /// `value = raw * scale + offset`, in `unit`.
    #[serde(default = "one")]
    pub scale: f64,
    #[serde(default)]
    pub offset: f64,
    /// The unit the device reports in, after scale and offset.
    pub unit: String,
    /// Raw value the device returns for "not available".
    pub sentinel: Option<f64>,
    #[serde(default)]
    pub poll: PollClass,
    /// A status flag: the register (u16 or u32) reads 1 when this bit (0 = least
    /// significant) is set, else 0. For `State` quantities (running, loaded, fault).
    pub bit: Option<u8>,
    /// Like `bit`, for a field of several bits: 1 when any bit of the mask is set (a fault-code
    /// byte, `mask = 0x00FF`).
    pub mask: Option<u32>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Error)]
pub enum ProfileError {
    #[error("profile {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("profile `{profile}`, register {index} ({quantity}): {message}")]
    Register {
        profile: String,
        index: usize,
        quantity: String,
        message: String,
    },
    #[error("profile directory {dir}: {source}")]
    Dir { dir: String, source: std::io::Error },
}

impl Profile {
    /// Parses and checks a profile; `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            origin: origin.to_owned(),
            message: e.message().to_owned(),
        })?;
        profile.check()?;
        Ok(profile)
    }

    fn check(&self) -> Result<(), ProfileError> {
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

    /// Protocol (0-based) address of a register.
    pub fn protocol_address(&self, r: &RegisterDef) -> u16 {
        r.address - u16::from(self.address_base)
    }

    pub fn order(&self, r: &RegisterDef) -> WordOrder {
        r.order.unwrap_or(self.word_order)
    }

    /// The profile as one device uses it: its analog channels turned into registers of the
    /// quantities and ranges the site file gives.
    pub fn for_device(&self, channels: &[ChannelConfig]) -> Result<Profile, String> {
        let mut p = self.clone();
        for c in channels {
            let def = self
                .channels
                .iter()
                .find(|d| d.channel == c.channel)
                .ok_or_else(|| {
                    format!(
                        "profile `{}` has no channel {} (it has {})",
                        self.name,
                        c.channel,
                        self.channels
                            .iter()
                            .map(|d| d.channel.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            let q = vocab::quantity(&c.quantity).map_err(|e| e.to_string())?;
            vocab::convert(1.0, &c.unit, q.unit).map_err(|e| e.to_string())?;
            let [low, high] = c.range;
            if !(low.is_finite() && high.is_finite()) || low == high {
                return Err(format!(
                    "channel {}: range must be two different numbers",
                    c.channel
                ));
            }
            let scale = (high - low) / (def.raw_high - def.raw_low);
            p.registers.push(RegisterDef {
                quantity: c.quantity.clone(),
                table: def.table,
                address: def.address,
                data_type: def.data_type,
                order: None,
                scale,
                offset: low - def.raw_low * scale,
                unit: c.unit.clone(),
                sentinel: None,
                poll: PollClass::Fast,
                bit: None,
                mask: None,
            });
        }
        let mut seen = std::collections::HashSet::new();
        for r in &p.registers {
            if !seen.insert(r.quantity.as_str()) {
                return Err(format!("quantity `{}` is measured twice", r.quantity));
            }
        }
        Ok(p)
    }
}

/// What one register decodes to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// In the quantity's canonical unit.
    Good(f64),
    /// The device's "not available" sentinel.
    Unavailable,
    /// NaN or infinite after decoding.
    Invalid,
}

impl RegisterDef {
    /// Raw register words → value in the quantity's canonical unit.
    pub fn to_canonical(
        &self,
        words: &[u16],
        order: WordOrder,
    ) -> Result<Value, decode::DecodeError> {
        // Units were checked when the profile was loaded.
        let canonical = vocab::quantity(&self.quantity).expect("checked").unit;
        let conversion = vocab::Conversion::new(&self.unit, canonical).expect("checked");
        self.to_canonical_with(words, order, &conversion)
    }

    /// [`Self::to_canonical`] with the unit conversion looked up beforehand
    /// ([`Self::conversion`]).
    pub fn to_canonical_with(
        &self,
        words: &[u16],
        order: WordOrder,
        conversion: &vocab::Conversion,
    ) -> Result<Value, decode::DecodeError> {
        let raw = decode::decode(words, self.data_type, order)?;
        if self.sentinel == Some(raw) {
            return Ok(Value::Unavailable);
        }
        if let Some(mask) = self.flag_mask() {
            return Ok(Value::Good(decode::flag(raw, mask)));
        }
        let scaled = scale(raw, self.scale) + self.offset;
        if !scaled.is_finite() {
            return Ok(Value::Invalid);
        }
        Ok(Value::Good(conversion.apply(scaled)))
    }

    /// For an unsigned integer counter: the register's range in the quantity's canonical unit
    /// (where it wraps to zero), e.g. a u32 of 0.01 kWh wraps at 42 949 672.96 kWh.
    pub fn counter_wrap(&self) -> Option<f64> {
        let q = vocab::quantity(&self.quantity).ok()?;
        if q.kind != vocab::Kind::Counter {
            return None;
        }
        let range = match self.data_type {
            DataType::U16 => 65_536.0,
            DataType::U32 => 4_294_967_296.0,
            DataType::U64 => 18_446_744_073_709_551_616.0,
            _ => return None,
        };
        Some(self.conversion().apply(range * self.scale.abs()))
    }

    /// Device unit → the quantity's canonical unit (units were checked when the profile was
    /// loaded).
    pub fn conversion(&self) -> vocab::Conversion {
        let canonical = vocab::quantity(&self.quantity).expect("checked").unit;
        vocab::Conversion::new(&self.unit, canonical).expect("checked")
    }

    /// The bits a status flag tests (`bit` or `mask`), if the register is one.
    pub fn flag_mask(&self) -> Option<u32> {
        self.mask
            .or_else(|| self.bit.and_then(|b| 1u32.checked_shl(u32::from(b))))
    }

    /// Value in canonical unit → the words a device would serve (simulators, tests). A status
    /// flag sets all its bits when `value` is non-zero.
    pub fn from_canonical(&self, value: f64, order: WordOrder) -> Vec<u16> {
        if let Some(mask) = self.flag_mask() {
            let raw = if value != 0.0 { f64::from(mask) } else { 0.0 };
            return decode::encode(raw, self.data_type, order);
        }
        let canonical = vocab::quantity(&self.quantity).expect("checked").unit;
        let in_unit = vocab::convert(value, canonical, &self.unit).expect("checked");
        decode::encode((in_unit - self.offset) / self.scale, self.data_type, order)
    }
}

/// Why a register's `bit`/`mask` is unusable, if it is.
fn flag_problem(r: &RegisterDef, q: &vocab::Quantity) -> Option<String> {
    let mask = match (r.bit, r.mask) {
        (None, None) => return None,
        (Some(_), Some(_)) => return Some("give `bit` or `mask`, not both".into()),
        (Some(b), None) => 1u64.checked_shl(u32::from(b)).unwrap_or(u64::MAX),
        (None, Some(m)) => u64::from(m),
    };
    let width = match r.data_type {
        DataType::U16 => 16,
        DataType::U32 => 32,
        _ => return Some("status bits are read from u16 or u32 registers".into()),
    };
    if r.table.is_bits() {
        return Some("coils and discrete inputs are bits already: drop `bit`/`mask`".into());
    }
    if mask == 0 || mask >> width != 0 {
        return Some(format!("the bits lie outside a {width}-bit register"));
    }
    if q.kind != vocab::Kind::State {
        return Some(format!(
            "a status bit decodes to 0 or 1: `{}` is not a state quantity",
            q.name
        ));
    }
    None
}

/// `raw * scale`, dividing when the scale is 1/n so decimal registers stay exact
/// (950 × 0.001 would give 0.9500000000000001; 950 / 1000 gives 0.95).
fn scale(raw: f64, scale: f64) -> f64 {
    let inverse = 1.0 / scale;
    if scale.abs() < 1.0 && (inverse - inverse.round()).abs() < 1e-9 {
        raw / inverse.round()
    } else {
        raw * scale
    }
}

/// Built-in profiles, compiled into the binary.
macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../profiles/", $name, ".toml")))),*]
    };
}
const BUILTIN: &[(&str, &str)] = builtin!(
    "eastron-sdm630",
    "eastron-sdm120",
    "eastron-sdm72",
    "schneider-pm5300",
    "schneider-iem3155",
    "janitza-umg96rm",
    "carlo-gavazzi-em24",
    "abb-b23",
    "socomec-diris-a40",
    "chint-dtsu666",
    "advantech-adam-4117",
    "generic-plc-counter",
    "kilowatch-meterboard",
    "delta-c2000",
    "danfoss-fc102",
);

/// All known profiles by name.
#[derive(Debug, Clone)]
pub struct ProfileLibrary {
    profiles: BTreeMap<String, Profile>,
}

impl ProfileLibrary {
    pub fn builtin() -> Self {
        let profiles = BUILTIN
            .iter()
            .map(|(file, text)| {
                let p = Profile::from_toml(text, file)
                    .unwrap_or_else(|e| panic!("built-in profile is broken: {e}"));
                (p.name.clone(), p)
            })
            .collect();
        Self { profiles }
    }

    /// Adds every `*.toml` in `dir`, replacing built-ins of the same name.
    pub fn with_dir(mut self, dir: &Path) -> Result<Self, ProfileError> {
        let dir_err = |source| ProfileError::Dir {
            dir: dir.display().to_string(),
            source,
        };
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(dir_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(dir_err)?;
            let p = Profile::from_toml(&text, &path.display().to_string())?;
            self.profiles.insert(p.name.clone(), p);
        }
        Ok(self)
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    pub fn names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_library_loads() {
        let lib = ProfileLibrary::builtin();
        let sdm = lib.get("eastron-sdm630").expect("sdm630 is built in");
        assert!(sdm.registers.iter().any(|r| r.quantity == "active_power"));
    }

    #[test]
    fn the_library_covers_the_common_meters() {
        let lib = ProfileLibrary::builtin();
        assert!(lib.names().len() >= 11, "{:?}", lib.names());
        for p in lib.iter() {
            assert!(!p.source.is_empty(), "{} names its source document", p.name);
            // No two registers of a profile overlap.
            // Status flags share their register with other flags of the same word.
            let mut spans: Vec<(Table, u16, u16)> = p
                .registers
                .iter()
                .filter(|r| r.flag_mask().is_none())
                .map(|r| (r.table, p.protocol_address(r), r.data_type.words()))
                .collect();
            spans.sort();
            for w in spans.windows(2) {
                assert!(
                    w[0].0 != w[1].0 || w[0].1 + w[0].2 <= w[1].1,
                    "{}: overlapping registers at {}",
                    p.name,
                    w[1].1
                );
            }
        }
    }

    #[test]
    fn analog_channels_scale_per_site() {
        let lib = ProfileLibrary::builtin();
        let adam = lib.get("advantech-adam-4117").unwrap();
        let p = adam
            .for_device(&[ChannelConfig {
                channel: 2,
                quantity: "pressure".into(),
                unit: "bar".into(),
                range: [0.0, 10.0],
            }])
            .unwrap();
        let r = p
            .registers
            .iter()
            .find(|r| r.quantity == "pressure")
            .unwrap();
        assert_eq!(p.protocol_address(r), 2);
        // 4 mA → 0 bar, 20 mA → 10 bar, 12 mA (mid-scale) → 5 bar.
        let at = |raw: u16| r.to_canonical(&[raw], WordOrder::ABCD).unwrap();
        assert_eq!(at(0), Value::Good(0.0));
        assert_eq!(at(65535), Value::Good(10.0));
        match at(32768) {
            Value::Good(v) => assert!((v - 5.0).abs() < 1e-3, "{v}"),
            v => panic!("{v:?}"),
        }
        let err = adam
            .for_device(&[ChannelConfig {
                channel: 9,
                quantity: "pressure".into(),
                unit: "bar".into(),
                range: [0.0, 10.0],
            }])
            .unwrap_err();
        assert!(err.contains("no channel 9"), "{err}");
    }

    #[test]
    fn watts_become_kilowatts() {
        let lib = ProfileLibrary::builtin();
        let sdm = lib.get("eastron-sdm630").unwrap();
        let p = sdm
            .registers
            .iter()
            .find(|r| r.quantity == "active_power")
            .unwrap();
        let words = p.from_canonical(12.5, sdm.order(p));
        // 12 500 W as float32 big-endian = 0x46435000
        assert_eq!(words, vec![0x4643, 0x5000]);
        assert_eq!(
            p.to_canonical(&words, sdm.order(p)).unwrap(),
            Value::Good(12.5)
        );
    }

    #[test]
    fn sentinel_and_scaling() {
        let text = r#"
            name = "t"
            manufacturer = "x"
            model = "y"
            source = "z"
            address_base = 1
            [[registers]]
            quantity = "power_factor"
            table = "holding"
            address = 1
            type = "i16"
            scale = 0.001
            unit = ""
            sentinel = -32768
        "#;
        let p = Profile::from_toml(text, "t.toml").unwrap();
        let r = &p.registers[0];
        assert_eq!(p.protocol_address(r), 0);
        assert_eq!(
            r.to_canonical(&[0x8000], WordOrder::ABCD).unwrap(),
            Value::Unavailable
        );
        assert_eq!(
            r.to_canonical(&[950], WordOrder::ABCD).unwrap(),
            Value::Good(0.95)
        );
    }

    #[test]
    fn status_bits_decode_to_states() {
        let text = r#"
            name = "t"
            manufacturer = "x"
            model = "y"
            source = "z"
            registers = [
              { quantity = "run_state", table = "holding", address = 10, type = "u16", unit = "", bit = 11 },
              { quantity = "fault_state", table = "holding", address = 10, type = "u16", unit = "", bit = 3 },
              { quantity = "load_state", table = "input", address = 20, type = "u32", unit = "", mask = 0x00FF0000, order = "CDAB" },
            ]
        "#;
        let p = Profile::from_toml(text, "t.toml").unwrap();
        let at = |i: usize, words: &[u16]| {
            let r = &p.registers[i];
            r.to_canonical(words, p.order(r)).unwrap()
        };
        // Danfoss-style status word 0x0803: bit 11 (running) set, bit 3 (trip) clear.
        assert_eq!(at(0, &[0x0803]), Value::Good(1.0));
        assert_eq!(at(1, &[0x0803]), Value::Good(0.0));
        assert_eq!(at(1, &[0x0008]), Value::Good(1.0));
        // Bits 16-23 of a word-swapped u32: the high word comes second.
        assert_eq!(at(2, &[0xFFFF, 0x0001]), Value::Good(1.0));
        assert_eq!(at(2, &[0xFFFF, 0xFF00]), Value::Good(0.0));
        // The simulator's words decode back to the same state.
        for (i, v) in [(0, 1.0), (1, 0.0), (2, 1.0)] {
            let r = &p.registers[i];
            let words = r.from_canonical(v, p.order(r));
            assert_eq!(r.to_canonical(&words, p.order(r)).unwrap(), Value::Good(v));
        }
    }

    #[test]
    fn unusable_status_bits_are_refused() {
        let with = |reg: &str| {
            Profile::from_toml(
                &format!(
                    "name = \"t\"\nmanufacturer = \"x\"\nmodel = \"y\"\nsource = \"z\"\nregisters = [ {reg} ]\n"
                ),
                "t.toml",
            )
            .unwrap_err()
            .to_string()
        };
        let e = with(
            r#"{ quantity = "run_state", table = "holding", address = 0, type = "u16", unit = "", bit = 16 }"#,
        );
        assert!(e.contains("outside a 16-bit register"), "{e}");
        let e = with(
            r#"{ quantity = "active_power", table = "holding", address = 0, type = "u16", unit = "kW", bit = 2 }"#,
        );
        assert!(e.contains("not a state quantity"), "{e}");
        let e = with(
            r#"{ quantity = "run_state", table = "holding", address = 0, type = "f32", unit = "", bit = 2 }"#,
        );
        assert!(e.contains("u16 or u32"), "{e}");
        let e = with(
            r#"{ quantity = "run_state", table = "holding", address = 0, type = "u16", unit = "", bit = 1, mask = 3 }"#,
        );
        assert!(e.contains("not both"), "{e}");
        let e = with(
            r#"{ quantity = "run_state", table = "holding", address = 0, type = "u16", unit = "", mask = 0 }"#,
        );
        assert!(e.contains("outside"), "{e}");
    }

    #[test]
    fn bad_profiles_are_refused_with_the_reason() {
        let text = r#"
            name = "t"
            manufacturer = "x"
            model = "y"
            source = "z"
            [[registers]]
            quantity = "active_power"
            table = "input"
            address = 0
            type = "f32"
            unit = "kWh"
        "#;
        let e = Profile::from_toml(text, "t.toml").unwrap_err().to_string();
        assert!(e.contains("active_power") && e.contains("kWh"), "{e}");
        let e = Profile::from_toml("name = 1", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("profile t.toml:"), "{e}");
    }
}
