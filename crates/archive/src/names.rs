//! Entry names that extraction tools could turn against the machine that unpacks the archive.

/// Longest entry name accepted, in bytes (common file systems' limit for one name).
pub(crate) const MAX_NAME_BYTES: usize = 255;

/// Why `raw` (an entry name as stored) is unsafe, or `None` if it is fine.
///
/// Works on bytes because names need not be UTF-8 (legacy archives use CP437) and every rule is
/// about ASCII characters, which CP437 and UTF-8 share.
pub(crate) fn unsafe_reason(raw: &[u8]) -> Option<&'static str> {
    if raw.is_empty() {
        return Some("is empty");
    }
    if raw.len() > MAX_NAME_BYTES {
        return Some("is longer than 255 bytes");
    }
    if raw.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Some("contains a control character");
    }
    // C1 controls only exist in UTF-8 names; CP437 maps every high byte to a printable glyph.
    if std::str::from_utf8(raw).is_ok_and(|s| s.chars().any(char::is_control)) {
        return Some("contains a control character");
    }
    if raw[0] == b'/' {
        return Some("is an absolute path");
    }
    if raw.len() >= 2 && raw[0].is_ascii_alphabetic() && raw[1] == b':' {
        return Some("starts with a drive letter");
    }
    if raw.contains(&b'\\') {
        return Some("contains a backslash");
    }
    if raw.split(|&b| b == b'/').any(|part| part == b"..") {
        return Some("contains a '..' path component");
    }
    None
}

/// A name fit to quote in a message: lossy UTF-8, control characters escaped (they are why some
/// names are refused, and must not reach a terminal or log raw), and cut short when very long.
pub(crate) fn for_display(raw: &[u8]) -> String {
    const MAX_CHARS: usize = 120;
    let lossy = String::from_utf8_lossy(raw);
    let mut out = String::new();
    for (i, c) in lossy.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "a.dcm",
            "P001/S1/IM0001",
            "a..b.dcm",
            "dir/",
            "./x",
            "x/..y/z",
            "тест/снимок.dcm",
        ] {
            assert_eq!(unsafe_reason(ok.as_bytes()), None, "{ok}");
        }
        assert_eq!(unsafe_reason(&[b'a'; 255]), None);
    }

    #[test]
    fn refuses_dangerous_names() {
        let cases: [(&[u8], &str); 12] = [
            (b"", "is empty"),
            (b"../x", "contains a '..' path component"),
            (b"a/../x", "contains a '..' path component"),
            (b"a/..", "contains a '..' path component"),
            (b"/etc/x", "is an absolute path"),
            (b"//server/share/x", "is an absolute path"),
            (b"C:\\x", "starts with a drive letter"),
            (b"c:x", "starts with a drive letter"),
            (b"a\\b", "contains a backslash"),
            (b"a\0b", "contains a control character"),
            (b"a\nb", "contains a control character"),
            ("a\u{85}b".as_bytes(), "contains a control character"),
        ];
        for (name, reason) in cases {
            assert_eq!(unsafe_reason(name), Some(reason), "{name:?}");
        }
        assert_eq!(
            unsafe_reason(&[b'a'; 256]),
            Some("is longer than 255 bytes")
        );
    }

    #[test]
    fn display_escapes_and_shortens() {
        assert_eq!(for_display(b"a\nb"), "a\\nb");
        let long = for_display(&[b'x'; 300]);
        assert_eq!(long.chars().count(), 121);
        assert!(long.ends_with('…'));
    }
}
