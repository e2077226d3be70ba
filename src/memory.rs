//! Memory bounds: every large allocation is estimated first and refused over a limit, so that
//! a wrong flag or a hostile file ends with one clear error instead of an abort.
//!
//! The limit is process-wide. By default it is three quarters of the memory the operating
//! system reports as available when it is first asked; [`set_limit`] overrides it (the command
//! line's `--max-memory`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::{Error, Result};

/// The limit set by [`set_limit`], 0 while none was set.
static LIMIT: AtomicU64 = AtomicU64::new(0);

/// Used when the available memory cannot be read (no `/proc/meminfo`).
const FALLBACK_LIMIT: u64 = 8 << 30;

/// The current limit in bytes.
pub fn limit() -> u64 {
    match LIMIT.load(Ordering::Relaxed) {
        0 => default_limit(),
        set => set,
    }
}

/// Sets the limit in bytes (0 restores the default).
pub fn set_limit(bytes: u64) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// Three quarters of the available memory, read once.
pub fn default_limit() -> u64 {
    static DEFAULT: OnceLock<u64> = OnceLock::new();
    *DEFAULT.get_or_init(|| available().map_or(FALLBACK_LIMIT, |a| a / 4 * 3))
}

/// The memory the operating system could give this process now (`MemAvailable` of
/// `/proc/meminfo`), if it says.
pub fn available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuses `bytes` for `what` (say "the training data") when it is over the limit.
///
/// # Errors
/// [`Error::Memory`] with the estimate and the limit.
pub fn check(what: &str, bytes: u64) -> Result<()> {
    let limit = limit();
    if bytes > limit {
        return Err(Error::Memory {
            what: what.to_string(),
            needed: bytes,
            limit,
        });
    }
    Ok(())
}

/// Bytes of `count` values of `size` bytes each, saturating (so that a product of hostile
/// dimensions is refused by [`check`] rather than wrapped around).
pub fn bytes(count: impl IntoIterator<Item = usize>, size: usize) -> u64 {
    count
        .into_iter()
        .fold(size as u64, |acc, n| acc.saturating_mul(n as u64))
}

/// A size such as `512M`, `2G`, `1.5GiB` or `1000000` (bytes); K, M, G and T are powers of 1024.
///
/// # Errors
/// [`Error::Config`] for anything else, or a size of zero.
pub fn parse_size(text: &str) -> Result<u64> {
    let bad = || Error::config(format!("'{text}' is not a memory size (examples: 512M, 2G, 1.5GiB)"));
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_uppercase();
    let shift = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad()),
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = value * (1u64 << shift) as f64;
    if bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// `bytes` in the largest binary unit that keeps a number of at least 1 (`1.5 GiB`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("2g").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("4 KB").unwrap(), 4096);
        for bad in ["", "0", "-1", "G", "1X", "1e400", "NaN"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_print_in_the_largest_unit() {
        assert_eq!(format_size(512), "512 bytes");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(3 << 29), "1.5 GiB");
    }

    #[test]
    fn products_of_hostile_dimensions_saturate_and_are_refused() {
        assert_eq!(bytes([3, 5], 4), 60);
        assert_eq!(bytes([usize::MAX, 2], 4), u64::MAX);
        let e = check("the test", u64::MAX).unwrap_err().to_string();
        assert!(e.contains("the test needs"), "{e}");
        assert!(check("nothing", 0).is_ok());
        assert!(limit() > 0);
    }
}
