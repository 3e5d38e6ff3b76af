//! A small, fixed extension table: enough for what shows up next to DICOM series.

/// The MIME type shown for an entry. The extension decides when it is known; otherwise DICOM
/// content does (PACS exports often have no extension, or a UID whose last part looks like one).
pub(crate) fn guess(name: &str, is_dicom: bool) -> &'static str {
    let base = name.rsplit('/').next().unwrap_or(name);
    let ext = match base.rfind('.') {
        Some(dot) if dot > 0 => base[dot + 1..].to_ascii_lowercase(),
        _ => String::new(),
    };
    match ext.as_str() {
        "dcm" | "dicom" => "application/dicom",
        "txt" => "text/plain",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        _ if is_dicom => "application/dicom",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::guess;

    #[test]
    fn by_extension_then_by_content() {
        assert_eq!(guess("a/IM1.DCM", false), "application/dicom");
        assert_eq!(guess("notes/readme.txt", false), "text/plain");
        assert_eq!(guess("x.JPG", false), "image/jpeg");
        assert_eq!(guess("P1/IM00001", true), "application/dicom");
        assert_eq!(guess("P1/IM00001", false), "application/octet-stream");
        assert_eq!(guess("1.2.840.113619.2.55", true), "application/dicom");
        assert_eq!(guess("dir.v2/.hidden", false), "application/octet-stream");
        assert_eq!(guess("x.txt", true), "text/plain");
    }
}
