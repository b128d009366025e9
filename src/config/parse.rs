//! Pure parsers for configuration values: each takes text and returns the
//! typed value or one sentence saying what is wrong. No environment, no
//! defaults, no I/O beyond reading a named file.

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use chrono::Duration;
use ipnet::IpNet;

pub(crate) fn read_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// For a SQLite `DATABASE_URL` (a path, `sqlite://PATH` or `sqlite:PATH`),
/// that the file's directory exists: SQLite creates the file, never the
/// directory. Other URLs pass.
pub(crate) fn database_dir_exists(url: &str) -> Result<(), String> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.contains("://") {
        return Ok(());
    }
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
            Err(format!(
                "directory {} does not exist (create it, or name another file)",
                shown.display()
            ))
        }
        _ => Ok(()),
    }
}

pub(crate) fn non_empty(value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(())
    }
}

pub(crate) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn parse_bind(value: &str) -> Result<(), String> {
    let value = value.trim();
    let valid = value
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if valid {
        Ok(())
    } else {
        Err(format!("{value:?} is not an address like 127.0.0.1:8080"))
    }
}

/// Whole seconds as a plain number, or a humantime form (`15m`, `1h 30m`),
/// from `min` seconds up to ten years: a timeout or a timer's period.
pub(crate) fn parse_secs(value: &str, min: u64) -> Result<StdDuration, String> {
    let value = value.trim();
    let secs = match value.parse::<u64>() {
        Ok(n) => n,
        Err(_) => humantime::parse_duration(value)
            .map_err(|e| {
                format!(
                    "{value:?} is not a duration: expected a number of seconds (900) or numbers with units, like 15m, 1h 30m or 7d ({e})"
                )
            })?
            .as_secs(),
    };
    if secs < min {
        return Err(format!("{value:?} must be at least {min} second(s)"));
    }
    if secs > TEN_YEARS {
        return Err(format!("{value:?} is longer than ten years"));
    }
    Ok(StdDuration::from_secs(secs))
}

/// [`parse_secs`] as a span of wall-clock time: a lifetime that is added to
/// and compared with timestamps.
pub(crate) fn parse_lifetime(value: &str, min: u64) -> Result<Duration, String> {
    parse_secs(value, min)
        .and_then(|d| Duration::from_std(d).map_err(|_| format!("{value:?} is too long")))
}

/// The longest duration [`parse_secs`] takes, in seconds.
const TEN_YEARS: u64 = 10 * 365 * 86_400;

pub(crate) fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{value:?} is not true or false")),
    }
}

pub(crate) fn cookie_name_ok(name: &str, secure: bool) -> Result<(), String> {
    // RFC 6265 §4.1.1: a cookie name is an RFC 2616 token.
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!("{name:?} is not a valid cookie name"));
    }
    if !secure && (name.starts_with("__Host-") || name.starts_with("__Secure-")) {
        return Err("a __Host- or __Secure- cookie needs PORTCULLIS_COOKIE_SECURE=true".into());
    }
    Ok(())
}

pub(crate) fn parse_origin(value: &str) -> Result<String, String> {
    let bad = || {
        format!("{value:?} is not an origin like https://app.example.com (no wildcard, no path)")
    };
    let (scheme, rest) = value.split_once("://").ok_or_else(bad)?;
    let host_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !(scheme == "http" || scheme == "https") || !host_ok {
        return Err(bad());
    }
    Ok(value.trim_end_matches('/').to_ascii_lowercase())
}

pub(crate) fn parse_net(value: &str) -> Result<IpNet, String> {
    IpNet::from_str(value)
        .or_else(|_| IpAddr::from_str(value).map(IpNet::from))
        .map_err(|_| format!("{value:?} is not an IP address or CIDR"))
}

/// The HS256 secret `.env.example` shows. Anyone can read it, so a gateway
/// started with it would accept tokens forged by anyone.
pub const EXAMPLE_SECRET: &str = "change-me-change-me-change-me-change-me";
/// Below this estimate a secret is refused as guessable.
const MIN_SECRET_BITS: f64 = 100.0;

/// Checks an HS256 secret: at least 32 bytes, not the example, and not
/// predictable. Its strength is estimated as the length of its shortest
/// repeating unit (`abab…` is `ab`) times log2 of the distinct bytes in
/// that unit: a crude upper bound that catches repeats and tiny alphabets,
/// which is what copied placeholders look like. Messages never echo it.
pub(crate) fn secret_ok(secret: &str) -> Result<(), String> {
    const HINT: &str = "generate one with `openssl rand -base64 48`";
    let bytes = secret.as_bytes();
    if bytes.len() < 32 {
        return Err(format!(
            "must be at least 32 bytes (got {}); {HINT}",
            bytes.len()
        ));
    }
    if secret == EXAMPLE_SECRET {
        return Err(format!(
            "is the example value from .env.example, which anyone can read; {HINT}"
        ));
    }
    let period = (1..=bytes.len())
        .find(|&p| bytes.iter().zip(&bytes[p..]).all(|(a, b)| a == b))
        .unwrap_or(bytes.len());
    let distinct = bytes[..period]
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    // lengths far below 2^52: the casts lose nothing
    let bits = period as f64 * (distinct as f64).log2();
    if bits < MIN_SECRET_BITS {
        return Err(format!(
            "is too predictable (a repeated pattern or too few different characters); {HINT}"
        ));
    }
    Ok(())
}

/// A `Strict-Transport-Security` value (RFC 6797: `max-age=N`, optionally
/// `includeSubDomains` and `preload`), or `off` for none.
pub(crate) fn parse_hsts(value: &str) -> Result<Option<String>, String> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || {
        format!(
            "{value:?} is not a Strict-Transport-Security value (max-age=SECONDS[; includeSubDomains][; preload]) or off"
        )
    };
    let mut max_age = false;
    for directive in value.split(';').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        match lower.split_once('=') {
            Some(("max-age", secs)) if !max_age && secs.parse::<u64>().is_ok() => max_age = true,
            None if lower == "includesubdomains" || lower == "preload" => {}
            _ => return Err(bad()),
        }
    }
    if !max_age {
        return Err(bad());
    }
    Ok(Some(value.to_owned()))
}

/// A size in bytes within `range`: a plain number, or one with a unit as
/// nginx writes them (`10m`, `512k`, `1 MiB`; k, m and g count 1024s), by
/// the parse-size crate.
pub(crate) fn parse_bytes(
    value: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, String> {
    let trimmed = value.trim();
    let bytes = parse_size::Config::new()
        .with_binary()
        .parse_size(trimmed)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            format!("{value:?} is not a size: a number of bytes, or one like 10m, 512k or 1 MiB")
        })?;
    if !range.contains(&bytes) {
        return Err(format!(
            "{value:?} is {bytes} bytes; give from {} to {} bytes",
            range.start(),
            range.end()
        ));
    }
    Ok(bytes)
}

/// A positive count within `range`, e.g. workers or a byte limit.
pub(crate) fn parse_count(
    value: &str,
    range: std::ops::RangeInclusive<usize>,
    what: &str,
) -> Result<usize, String> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "{value:?} is not {what} from {} to {}",
                range.start(),
                range.end()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_is_max_age_with_known_directives_or_off() {
        assert_eq!(parse_hsts("off").unwrap(), None);
        assert_eq!(parse_hsts(" OFF ").unwrap(), None);
        for good in [
            "max-age=31536000",
            "max-age=0",
            "max-age=63072000; includeSubDomains; preload",
        ] {
            assert_eq!(parse_hsts(good).unwrap().as_deref(), Some(good));
        }
        for bad in [
            "",
            "31536000",
            "max-age=",
            "max-age=-1",
            "max-age=1; max-age=2",
            "preload",
            "max-age=1\r\nX: y",
            "max-age=1; foo",
        ] {
            assert!(parse_hsts(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_accept_seconds_and_humantime() {
        assert_eq!(parse_secs("900", 1), Ok(StdDuration::from_secs(900)));
        assert_eq!(parse_secs(" 15m ", 1), Ok(StdDuration::from_secs(900)));
        assert_eq!(parse_secs("0", 0), Ok(StdDuration::ZERO));
        assert!(parse_secs("0", 1).is_err());
        assert!(parse_secs("-5", 0).is_err());
        let soon = parse_secs("soon", 1).unwrap_err();
        assert!(
            soon.contains("expected a number of seconds (900)"),
            "{soon}"
        );
        assert!(parse_secs("3651days", 1).is_err());
        assert_eq!(parse_lifetime("1h 30m", 1), Ok(Duration::minutes(90)));
    }

    #[test]
    fn booleans_take_the_usual_words_and_nothing_else() {
        assert_eq!(parse_bool(" Yes "), Ok(true));
        assert_eq!(parse_bool("off"), Ok(false));
        assert!(parse_bool("maybe").is_err());
    }

    #[test]
    fn cookie_names_are_tokens_and_host_prefixes_need_secure() {
        assert!(cookie_name_ok("portcullis_refresh", false).is_ok());
        assert!(cookie_name_ok("a b", true).is_err());
        assert!(cookie_name_ok("__Host-x", false).is_err());
        assert!(cookie_name_ok("__Host-x", true).is_ok());
    }

    #[test]
    fn origins_have_no_wildcard_and_no_path() {
        assert_eq!(
            parse_origin("https://App.example.com"),
            Ok("https://app.example.com".into())
        );
        assert!(parse_origin("*").is_err());
        assert!(parse_origin("https://a.example/path").is_err());
        assert!(parse_origin("ftp://a.example").is_err());
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidrs() {
        assert_eq!(parse_net("10.0.0.1"), Ok("10.0.0.1/32".parse().unwrap()));
        assert_eq!(parse_net("fd00::/8"), Ok("fd00::/8".parse().unwrap()));
        assert!(parse_net("proxy.local").is_err());
    }

    #[test]
    fn bind_addresses_need_a_host_and_a_port() {
        assert!(parse_bind("127.0.0.1:8080").is_ok());
        assert!(parse_bind("[::]:0").is_ok());
        assert!(parse_bind(":8080").is_err());
        assert!(parse_bind("localhost").is_err());
    }

    #[test]
    fn guessable_secrets_are_refused_and_random_ones_accepted() {
        for weak in [
            EXAMPLE_SECRET,
            "short",
            &"a".repeat(64),
            "0123456789abcdef0123456789abcdef",
            "passwordpasswordpasswordpassword",
            "abababababababababababababababababab",
            "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb",
        ] {
            let err = secret_ok(weak).unwrap_err();
            assert!(err.contains("openssl rand -base64 48"), "{err}");
            assert!(!err.contains(weak), "{err}");
        }
        assert!(
            secret_ok(EXAMPLE_SECRET)
                .unwrap_err()
                .contains(".env.example")
        );
        for strong in [
            // what `openssl rand -base64 48` and `-hex 32` print
            "q4Jk0Vd2nX9pLrT7sWcYb1ZeHfGu3aMi8oQ5yN6vKx0RjBtCwDzEg2hIlPmSnUoA",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            // 32 random hex characters
            "3e1f0b9c7a52d48e6f19c0a7b2d35e84",
            "integration-test-secret-of-enough-bytes",
        ] {
            assert_eq!(secret_ok(strong), Ok(()), "{strong}");
        }
    }

    #[test]
    fn sizes_take_units_like_nginx_and_say_what_they_expect() {
        assert_eq!(parse_bytes("10485760", 1..=usize::MAX), Ok(10 << 20));
        assert_eq!(parse_bytes(" 10m ", 1..=usize::MAX), Ok(10 << 20));
        assert_eq!(parse_bytes("512k", 1..=usize::MAX), Ok(512 << 10));
        assert_eq!(parse_bytes("1 MiB", 1..=usize::MAX), Ok(1 << 20));
        let err = parse_bytes("lots", 1..=usize::MAX).unwrap_err();
        assert!(err.contains("like 10m"), "{err}");
        let err = parse_bytes("2g", 1..=(1 << 30)).unwrap_err();
        assert!(err.contains("from 1 to 1073741824 bytes"), "{err}");
        assert!(parse_bytes("0", 1..=10).is_err());
    }

    #[test]
    fn counts_stay_in_their_range() {
        assert_eq!(parse_count(" 4 ", 1..=256, "a number"), Ok(4));
        assert!(parse_count("0", 1..=256, "a number").is_err());
        assert!(parse_count("x", 1..=256, "a number").is_err());
    }
}
