//! The profile library: built-in profiles compiled into the binary, overridden by name from a
//! user directory.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Profile, ProfileError};

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
    "abb-acs580",
    "siemens-mag6000",
    "bell-vfm60",
    "kamstrup-multical603",
    "kaeser-sigma-control",
    "kaeser-sigma-control-2",
    "aquametro-calec-st",
    "datakom-dk40",
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
