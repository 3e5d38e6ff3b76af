//! `Content-Disposition: attachment` per RFC 6266: an ASCII `filename` fallback for old
//! clients and the exact name as `filename*=UTF-8''<percent-encoded>` (RFC 8187). The old
//! system put raw names into the header and crashed on Cyrillic ones.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 8187 `attr-char`: everything else is percent-encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The name offered when the real one is empty.
const FALLBACK_NAME: &str = "download";

/// The header value for downloading `file_name`; always plain ASCII.
pub fn attachment(file_name: &str) -> String {
    let name: String = file_name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    let name = if name.is_empty() { FALLBACK_NAME } else { name };
    let encoded = utf8_percent_encode(name, ATTR_CHAR);
    format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{encoded}",
        ascii_fallback(name)
    )
}

/// The name as a safe quoted-string body: non-ASCII characters, quotes, backslashes and `%`
/// (which some browsers decode) become `_`.
fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == ' ' || (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%')) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::attachment;

    #[test]
    fn ascii_names_appear_in_both_parameters() {
        assert_eq!(
            attachment("study.zip"),
            "attachment; filename=\"study.zip\"; filename*=UTF-8''study.zip"
        );
        assert_eq!(
            attachment("my study (1).zip"),
            "attachment; filename=\"my study (1).zip\"; filename*=UTF-8''my%20study%20%281%29.zip"
        );
    }

    #[test]
    fn cyrillic_names_get_an_ascii_fallback_and_an_exact_utf8_name() {
        let value = attachment("исследование.zip");
        assert!(value.is_ascii());
        assert_eq!(
            value,
            "attachment; filename=\"____________.zip\"; \
             filename*=UTF-8''%D0%B8%D1%81%D1%81%D0%BB%D0%B5%D0%B4%D0%BE%D0%B2%D0%B0%D0%BD%D0%B8%D0%B5.zip"
        );
        assert!(actix_web::http::header::HeaderValue::from_str(&value).is_ok());
    }

    #[test]
    fn quotes_backslashes_and_control_characters_cannot_break_the_header() {
        let value = attachment("a\"b\\c\r\nd;e%f.xlsx");
        assert_eq!(
            value,
            "attachment; filename=\"a_b_cd;e_f.xlsx\"; filename*=UTF-8''a%22b%5Ccd%3Be%25f.xlsx"
        );
        assert!(actix_web::http::header::HeaderValue::from_str(&value).is_ok());
    }

    #[test]
    fn empty_names_fall_back() {
        assert_eq!(
            attachment(" \u{0} "),
            "attachment; filename=\"download\"; filename*=UTF-8''download"
        );
    }

    #[test]
    fn actix_parses_the_utf8_name_back() {
        use actix_web::http::header::{ContentDisposition, HeaderValue};
        let value = HeaderValue::from_str(&attachment("отчёт 2026.xlsx")).unwrap();
        let parsed = ContentDisposition::from_raw(&value).unwrap();
        let ext = parsed.get_filename_ext().unwrap();
        assert_eq!(
            String::from_utf8(ext.value.clone()).unwrap(),
            "отчёт 2026.xlsx"
        );
    }
}
