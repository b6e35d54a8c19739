//! Flag values with units: sizes (`128MiB`, `1G`), durations (`500ms`, `30s`, `1h`, `1d`) and
//! time zones (`UTC`, `Europe/Paris`).

/// Parses a byte size: a number and an optional unit `B`, `K`/`KB`/`KiB`, `M`..., `G`..., `T`...
/// (all binary: `1K` = 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 128MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "{text:?}: unknown size unit (use B, KiB, MiB, GiB, TiB)"
            ));
        }
    };
    number
        .checked_mul(1 << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{text:?} is not a positive size that fits in 64 bits"))
}

/// Parses a positive duration (`250ms`, `30s`, `5m`, `1h`, `1d`) for the roller's clocks.
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    parse_timeout(text)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .ok_or_else(|| not_positive(text))
}

/// Parses a positive duration for a timeout (`--hdfs-timeout`).
pub fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    crate::cli::time::parse_duration(text)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| not_positive(text))
}

fn not_positive(text: &str) -> String {
    format!("{text:?} is not a positive duration like 30s, 5m or 1h")
}

/// Parses an IANA time zone name.
pub fn parse_zone(text: &str) -> Result<chrono_tz::Tz, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a time zone name like UTC or Europe/Paris"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("128MiB"), Ok(128 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(parse_duration("1h"), Ok(chrono::Duration::hours(1)));
        assert_eq!(
            parse_duration("250ms"),
            Ok(chrono::Duration::milliseconds(250))
        );
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
