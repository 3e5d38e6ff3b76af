//! Addresses and durations: the port of a bind address, the parts of a URL, and compose's
//! duration syntax.

use reqwest::Url;

/// The port of `host:port`.
pub(crate) fn bind_port(bind: &str) -> Option<u16> {
    bind.rsplit_once(':')?.1.parse().ok()
}

/// `scheme`, `host`, `port` (the scheme's default when absent) and `path` of a URL.
pub(crate) fn url_parts(url: &str) -> Option<(String, String, u16, String)> {
    let parsed = Url::parse(url.trim()).ok()?;
    let port = parsed.port_or_known_default().or(match parsed.scheme() {
        "postgres" | "postgresql" => Some(5432),
        _ => None,
    })?;
    Some((
        parsed.scheme().to_owned(),
        parsed.host_str()?.to_owned(),
        port,
        parsed.path().to_owned(),
    ))
}

/// `45s`, `1m30s`, `2m`, `500ms` → seconds (rounded down).
pub(crate) fn duration_secs(text: &str) -> Option<u64> {
    let mut total_ms = 0u64;
    let mut number = String::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit_ms = match c {
            'h' => 3_600_000,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'm' => 60_000,
            's' => 1000,
            _ => return None,
        };
        total_ms += n * unit_ms;
    }
    if !number.is_empty() {
        return None;
    }
    Some(total_ms / 1000)
}
