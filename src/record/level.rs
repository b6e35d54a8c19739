//! Log levels, normalized to the seven names of DESIGN.md §1.

use std::fmt;
use std::str::FromStr;

/// A normalized log level. Ordered by severity, so `level >= Level::Error` means "ERROR and above".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Critical,
}

impl Level {
    /// All levels from the least to the most severe.
    pub const ALL: [Level; 7] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Notice,
        Level::Warn,
        Level::Error,
        Level::Critical,
    ];

    /// The normalized name written into records.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Notice => "NOTICE",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// Recognizes a level name as it appears in logs, in any case: the normalized names, their
    /// common spellings (`WARNING`, `ERR`, `INFORMATION`, ...), the names mapped to CRITICAL
    /// (`FATAL`, `SEVERE`, `CRIT`, `ALERT`, `EMERG`, `PANIC`), java.util.logging's `FINE`/`FINER`/
    /// `FINEST`/`CONFIG`, and Android's single letters (`V D I W E F A`).
    pub fn from_name(name: &[u8]) -> Option<Level> {
        // Longest recognized name is "EMERGENCY" / "INFORMATION" (11 bytes).
        if name.is_empty() || name.len() > 11 {
            return None;
        }
        let mut upper = [0u8; 11];
        for (dst, src) in upper.iter_mut().zip(name) {
            *dst = src.to_ascii_uppercase();
        }
        Some(match &upper[..name.len()] {
            b"TRACE" | b"FINEST" | b"FINER" | b"V" | b"VERBOSE" => Level::Trace,
            b"DEBUG" | b"FINE" | b"D" | b"DBG" => Level::Debug,
            b"INFO" | b"INFORMATION" | b"CONFIG" | b"I" | b"INF" => Level::Info,
            b"NOTICE" | b"N" => Level::Notice,
            b"WARN" | b"WARNING" | b"W" | b"WRN" => Level::Warn,
            b"ERROR" | b"ERR" | b"E" => Level::Error,
            b"CRITICAL" | b"CRIT" | b"FATAL" | b"SEVERE" | b"ALERT" | b"EMERG" | b"EMERGENCY"
            | b"PANIC" | b"F" | b"A" | b"C" => Level::Critical,
            _ => return None,
        })
    }

    /// Maps a syslog severity (0 = emerg ... 7 = debug) to a level.
    pub fn from_syslog_severity(severity: u8) -> Level {
        match severity {
            0..=2 => Level::Critical,
            3 => Level::Error,
            4 => Level::Warn,
            5 => Level::Notice,
            6 => Level::Info,
            _ => Level::Debug,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a string that names no known level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLevel(pub String);

impl fmt::Display for UnknownLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown log level {:?} (expected one of TRACE DEBUG INFO NOTICE WARN ERROR CRITICAL)",
            self.0
        )
    }
}

impl std::error::Error for UnknownLevel {}

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Level, UnknownLevel> {
        Level::from_name(s.trim().as_bytes()).ok_or_else(|| UnknownLevel(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_normalize_as_the_design_says() {
        for (name, level) in [
            ("fatal", Level::Critical),
            ("SEVERE", Level::Critical),
            ("crit", Level::Critical),
            ("Alert", Level::Critical),
            ("EMERG", Level::Critical),
            ("panic", Level::Critical),
            ("warning", Level::Warn),
            ("E", Level::Error),
            ("W", Level::Warn),
            ("I", Level::Info),
            ("D", Level::Debug),
            ("V", Level::Trace),
            ("notice", Level::Notice),
        ] {
            assert_eq!(name.parse::<Level>(), Ok(level), "{name}");
        }
        assert!("LOUD".parse::<Level>().is_err());
        assert!("".parse::<Level>().is_err());
        assert!("INFORMATIONAL".parse::<Level>().is_err());
    }

    #[test]
    fn levels_are_ordered_by_severity() {
        assert!(Level::Critical > Level::Error);
        assert!(Level::Warn > Level::Notice);
        assert!(Level::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
