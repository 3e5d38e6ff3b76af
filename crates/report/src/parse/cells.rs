//! Conversions of one calamine cell into the types a report row needs.
//!
//! Error cells (`#DIV/0!`), whitespace-only text and non-finite numbers count as empty
//! everywhere, so a row made only of them is a fully empty row.

use std::str::FromStr;

use calamine::{Data, ExcelDateTime};
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Number, Value};

/// Largest integer an f64 holds exactly: beyond it an integral float stays a JSON float.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;
/// Excel's date range is serials 0 ..< 2 958 466 (9999-12-31); outside it the value is a number.
const EXCEL_DATE_RANGE: std::ops::Range<f64> = 0.0..2_958_466.0;

pub(crate) fn is_blank(data: &Data) -> bool {
    match data {
        Data::Empty | Data::Error(_) => true,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().is_empty(),
        Data::Float(f) => !f.is_finite(),
        Data::DateTime(d) => !d.as_f64().is_finite(),
        Data::Int(_) | Data::Bool(_) => false,
    }
}

/// The cell as text: strings trimmed, numbers without exponent or float noise (`3.2`, `12`,
/// `1200` for 1.2e3), booleans `true`/`false`, dates RFC 3339.
pub(crate) fn text(data: &Data) -> Option<String> {
    if is_blank(data) {
        return None;
    }
    match data {
        Data::String(s) | Data::DurationIso(s) => Some(s.trim().to_owned()),
        Data::DateTimeIso(s) => Some(iso_text(s)),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) => Some(number_text(*f)),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) => Some(match excel_date(d) {
            ExcelDate::Instant(s) => s,
            ExcelDate::Seconds(s) | ExcelDate::Number(s) => number_text(s),
        }),
        Data::Empty | Data::Error(_) => None,
    }
}

/// The cell as a number: numeric cells, and text in which `,` may be the decimal separator.
/// Durations count in seconds; dates and booleans are not numbers.
pub(crate) fn number(data: &Data) -> Option<f64> {
    let value = match data {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        Data::String(s) => decimal(s),
        Data::DateTime(d) if d.is_duration() => Some(d.as_f64() * 86_400.0),
        _ => None,
    };
    value.filter(|v| v.is_finite())
}

/// The cell as a flag: booleans, the numbers 0 and 1, and (trimmed, any case)
/// `true/false/1/0/yes/no/да/нет`; anything else is unknown.
pub(crate) fn flag(data: &Data) -> Option<bool> {
    match data {
        Data::Bool(b) => Some(*b),
        Data::Int(1) => Some(true),
        Data::Int(0) => Some(false),
        Data::Float(f) if *f == 1.0 => Some(true),
        Data::Float(f) if *f == 0.0 => Some(false),
        Data::String(s) => match s.trim().to_lowercase().as_str() {
            "true" | "1" | "yes" | "да" => Some(true),
            "false" | "0" | "no" | "нет" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The cell as a JSON value for `extra`: numbers (integral ones as JSON integers), trimmed text,
/// booleans, dates as RFC 3339 text, durations as seconds.
pub(crate) fn json(data: &Data) -> Option<Value> {
    if is_blank(data) {
        return None;
    }
    match data {
        Data::Int(i) => Some(Value::from(*i)),
        Data::Float(f) => json_number(*f),
        Data::Bool(b) => Some(Value::Bool(*b)),
        Data::DateTime(d) => match excel_date(d) {
            ExcelDate::Instant(s) => Some(Value::String(s)),
            ExcelDate::Seconds(f) | ExcelDate::Number(f) => json_number(f),
        },
        _ => text(data).map(Value::String),
    }
}

fn json_number(f: f64) -> Option<Value> {
    if f.fract() == 0.0 && f.abs() <= EXACT_INT {
        // In range and integral, so the conversion is exact.
        Some(Value::from(f as i64))
    } else {
        Number::from_f64(f).map(Value::Number)
    }
}

/// Rust's `Display` for f64 never uses an exponent and prints integral values without `.0`,
/// which is the old system's `str()` behaviour for the values that occur (`3.2`, `12`).
fn number_text(f: f64) -> String {
    if f == 0.0 {
        // Avoids "-0".
        "0".to_owned()
    } else {
        f.to_string()
    }
}

fn decimal(s: &str) -> Option<f64> {
    let s = s.trim();
    // "0,71" is a decimal comma; "1,234.5" or "1,2,3" are not numbers we can trust.
    if !s.contains('.') && s.matches(',').count() == 1 {
        s.replacen(',', ".", 1).parse().ok()
    } else {
        s.parse().ok()
    }
}

enum ExcelDate {
    Instant(String),
    Seconds(f64),
    /// A date serial outside Excel's range: kept as the number it is.
    Number(f64),
}

fn excel_date(d: &ExcelDateTime) -> ExcelDate {
    let serial = d.as_f64();
    if d.is_duration() {
        // Rounded to Excel's millisecond precision, so 1.5 s does not read as 1.4999999.
        let seconds = (serial * 86_400_000.0).round() / 1000.0;
        return if seconds.is_finite() {
            ExcelDate::Seconds(seconds)
        } else {
            ExcelDate::Number(serial)
        };
    }
    // calamine's conversion panics on serials chrono cannot represent; only call it in range.
    if !EXCEL_DATE_RANGE.contains(&serial) {
        return ExcelDate::Number(serial);
    }
    match d.as_datetime() {
        Some(naive) => ExcelDate::Instant(rfc3339(naive)),
        None => ExcelDate::Number(serial),
    }
}

/// Excel keeps no time zone; the wall-clock value is taken as UTC so it can be RFC 3339.
fn rfc3339(naive: NaiveDateTime) -> String {
    naive.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `t="d"` cells hold ISO 8601 text; normalised to RFC 3339 when it parses, else kept as written.
fn iso_text(s: &str) -> String {
    let s = s.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(s) {
        return instant
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true);
    }
    if let Ok(naive) = NaiveDateTime::from_str(s) {
        return rfc3339(naive);
    }
    if let Ok(date) = NaiveDate::from_str(s) {
        return rfc3339(date.and_time(chrono::NaiveTime::MIN));
    }
    s.to_owned()
}

#[cfg(test)]
mod tests;
