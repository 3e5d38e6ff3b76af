use calamine::{CellErrorType, Data, ExcelDateTime, ExcelDateTimeType};
use serde_json::json;

use super::*;

fn date(serial: f64) -> Data {
    Data::DateTime(ExcelDateTime::new(
        serial,
        ExcelDateTimeType::DateTime,
        false,
    ))
}

fn duration(serial: f64) -> Data {
    Data::DateTime(ExcelDateTime::new(
        serial,
        ExcelDateTimeType::TimeDelta,
        false,
    ))
}

#[test]
fn numbers_become_text_without_exponent_or_trailing_zero() {
    assert_eq!(text(&Data::Float(3.2)).as_deref(), Some("3.2"));
    assert_eq!(text(&Data::Float(12.0)).as_deref(), Some("12"));
    assert_eq!(text(&Data::Float(1.2e3)).as_deref(), Some("1200"));
    assert_eq!(
        text(&Data::Float(1e21)).as_deref(),
        Some("1000000000000000000000")
    );
    assert_eq!(text(&Data::Float(-0.0)).as_deref(), Some("0"));
    assert_eq!(text(&Data::Int(42)).as_deref(), Some("42"));
    assert_eq!(
        text(&Data::String("  1.2.3 ".into())).as_deref(),
        Some("1.2.3")
    );
    assert_eq!(text(&Data::Bool(true)).as_deref(), Some("true"));
}

#[test]
fn blanks_errors_and_non_finite_numbers_are_empty() {
    for blank in [
        Data::Empty,
        Data::Error(CellErrorType::Div0),
        Data::String(" \t".into()),
        Data::Float(f64::NAN),
        Data::Float(f64::INFINITY),
    ] {
        assert!(is_blank(&blank), "{blank:?}");
        assert_eq!(text(&blank), None);
        assert_eq!(number(&blank), None);
        assert_eq!(json(&blank), None);
    }
}

#[test]
fn text_numbers_accept_a_decimal_comma() {
    assert_eq!(number(&Data::String("0,71".into())), Some(0.71));
    assert_eq!(number(&Data::String(" 0.71 ".into())), Some(0.71));
    assert_eq!(number(&Data::String("71".into())), Some(71.0));
    assert_eq!(number(&Data::String("1,234.5".into())), None);
    assert_eq!(number(&Data::String("1,2,3".into())), None);
    assert_eq!(number(&Data::String("NaN".into())), None);
    assert_eq!(number(&Data::String("inf".into())), None);
    assert_eq!(number(&Data::String("high".into())), None);
    assert_eq!(number(&Data::Bool(true)), None);
    assert_eq!(number(&date(45_000.0)), None);
}

#[test]
fn flags_understand_every_spelling() {
    for yes in ["true", "TRUE", " 1 ", "yes", "Yes", "да", "ДА"] {
        assert_eq!(flag(&Data::String(yes.into())), Some(true), "{yes}");
    }
    for no in ["false", "False", "0", "no", "NO", "нет", " Нет "] {
        assert_eq!(flag(&Data::String(no.into())), Some(false), "{no}");
    }
    for unknown in ["maybe", "2", "0.5", "y", ""] {
        assert_eq!(flag(&Data::String(unknown.into())), None, "{unknown}");
    }
    assert_eq!(flag(&Data::Float(1.0)), Some(true));
    assert_eq!(flag(&Data::Float(0.0)), Some(false));
    assert_eq!(flag(&Data::Int(1)), Some(true));
    assert_eq!(flag(&Data::Int(0)), Some(false));
    assert_eq!(flag(&Data::Float(0.5)), None);
    assert_eq!(flag(&Data::Int(2)), None);
    assert_eq!(flag(&Data::Bool(false)), Some(false));
}

#[test]
fn dates_become_rfc3339_and_durations_seconds() {
    // 45943.5 is 2025-10-13 12:00 in the 1900 epoch.
    assert_eq!(json(&date(45_943.5)), Some(json!("2025-10-13T12:00:00Z")));
    assert_eq!(
        text(&date(45_943.5)).as_deref(),
        Some("2025-10-13T12:00:00Z")
    );
    assert_eq!(json(&duration(1.5 / 86_400.0)), Some(json!(1.5)));
    assert_eq!(number(&duration(0.5)), Some(43_200.0));
}

#[test]
fn out_of_range_dates_stay_numbers_instead_of_panicking() {
    assert_eq!(json(&date(-1.0)), Some(json!(-1)));
    assert_eq!(json(&date(1e300)), Some(json!(1e300)));
    assert!(text(&date(f64::MAX)).is_some());
    assert_eq!(json(&date(f64::NEG_INFINITY)), None);
    assert!(json(&duration(1e300)).is_some());
}

#[test]
fn iso_date_cells_are_normalised() {
    assert_eq!(
        json(&Data::DateTimeIso("2025-10-13T12:00:00".into())),
        Some(json!("2025-10-13T12:00:00Z"))
    );
    assert_eq!(
        json(&Data::DateTimeIso("2025-10-13".into())),
        Some(json!("2025-10-13T00:00:00Z"))
    );
    assert_eq!(
        json(&Data::DateTimeIso("2025-10-13T12:00:00+02:00".into())),
        Some(json!("2025-10-13T10:00:00Z"))
    );
    assert_eq!(json(&Data::DateTimeIso("soon".into())), Some(json!("soon")));
    assert_eq!(json(&Data::DurationIso("PT1H".into())), Some(json!("PT1H")));
}

#[test]
fn json_keeps_kinds_and_integral_numbers_are_integers() {
    assert_eq!(json(&Data::Float(120.0)), Some(json!(120)));
    assert_eq!(json(&Data::Float(3.2)), Some(json!(3.2)));
    assert_eq!(json(&Data::Float(1e20)), Some(json!(1e20)));
    assert_eq!(json(&Data::Int(-7)), Some(json!(-7)));
    assert_eq!(json(&Data::Bool(true)), Some(json!(true)));
    assert_eq!(json(&Data::String(" v1 ".into())), Some(json!("v1")));
    assert_eq!(json(&Data::String("0,5".into())), Some(json!("0,5")));
}
