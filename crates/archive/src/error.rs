//! Why an upload is refused, in words a user can act on.

use std::io;

use zip::result::ZipError;

/// Why an archive was refused. Every variant but [`ArchiveError::Io`] is the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not a readable ZIP, truncated, corrupt central directory or entry data. The message is a
    /// complete sentence.
    #[error("{0}")]
    Unreadable(String),
    #[error("entry '{entry}' is encrypted; password-protected archives are not accepted")]
    Encrypted { entry: String },
    #[error("the archive lists {count} entries, more than the limit of {limit}")]
    TooManyEntries { count: u64, limit: u64 },
    /// The total declared uncompressed size is over the limit.
    #[error(
        "the archive would expand to {} ({total} bytes), more than the limit of {} ({limit} bytes)",
        human_bytes(*.total),
        human_bytes(*.limit)
    )]
    TooLarge { total: u64, limit: u64 },
    /// A zip bomb: uncompressed/compressed over the limit.
    #[error(
        "entry '{entry}' has a compression ratio of {}, over the limit of {limit}:1 (a possible zip bomb)",
        ratio_text(*.ratio)
    )]
    SuspiciousRatio {
        entry: String,
        ratio: f64,
        limit: f64,
    },
    #[error("entry '{entry}' has an unsafe name: {reason}")]
    UnsafeName { entry: String, reason: &'static str },
    /// The spooled file itself could not be read: not the client's fault.
    #[error("the uploaded file could not be read back from temporary storage: {0}")]
    Io(#[from] io::Error),
}

impl ArchiveError {
    /// Whether the upload itself is at fault (answer 422), rather than the server (500).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Io(_))
    }

    /// An error while opening the archive or parsing its central directory.
    pub(crate) fn from_zip(err: ZipError) -> Self {
        match err {
            ZipError::Io(e) => Self::from_read(e, "the file is not a readable ZIP archive"),
            other => Self::Unreadable(format!("the file is not a readable ZIP archive ({other})")),
        }
    }

    /// An error while opening or decompressing one entry.
    pub(crate) fn from_entry(entry: &str, err: ZipError) -> Self {
        let context = format!("entry '{entry}' could not be read");
        match err {
            ZipError::Io(e) => Self::from_read(e, &context),
            other => Self::Unreadable(format!("{context} ({other})")),
        }
    }

    /// Only an error from the operating system means the temp file failed us; errors that the
    /// zip and inflate code make up themselves (unexpected end, bad data, CRC mismatch) describe
    /// the upload.
    pub(crate) fn from_read(err: io::Error, context: &str) -> Self {
        if err.raw_os_error().is_some() {
            Self::Io(err)
        } else {
            Self::Unreadable(format!("{context} ({err})"))
        }
    }
}

fn ratio_text(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("{ratio:.0}:1")
    } else {
        "infinity (content stored in 0 compressed bytes)".to_owned()
    }
}

fn human_bytes(bytes: u64) -> String {
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
    fn messages_are_sentences_a_user_can_read() {
        let name = ArchiveError::UnsafeName {
            entry: "a/../x".into(),
            reason: "contains a '..' path component",
        };
        assert_eq!(
            name.to_string(),
            "entry 'a/../x' has an unsafe name: contains a '..' path component"
        );
        let big = ArchiveError::TooLarge {
            total: 25 << 30,
            limit: 20 << 30,
        };
        assert_eq!(
            big.to_string(),
            "the archive would expand to 25.0 GiB (26843545600 bytes), more than the limit of 20.0 GiB (21474836480 bytes)"
        );
        let bomb = ArchiveError::SuspiciousRatio {
            entry: "z".into(),
            ratio: 1029.6,
            limit: 100.0,
        };
        assert_eq!(
            bomb.to_string(),
            "entry 'z' has a compression ratio of 1030:1, over the limit of 100:1 (a possible zip bomb)"
        );
        let infinite = ArchiveError::SuspiciousRatio {
            entry: "z".into(),
            ratio: f64::INFINITY,
            limit: 100.0,
        };
        assert!(infinite.to_string().contains("infinity"));
    }

    #[test]
    fn only_os_errors_are_the_servers_fault() {
        let os = io::Error::from_raw_os_error(5);
        assert!(!ArchiveError::from_read(os, "x").is_client_error());
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert!(ArchiveError::from_read(eof, "x").is_client_error());
        assert!(ArchiveError::Encrypted { entry: "e".into() }.is_client_error());
        let count = ArchiveError::TooManyEntries { count: 3, limit: 2 };
        assert_eq!(
            count.to_string(),
            "the archive lists 3 entries, more than the limit of 2"
        );
    }
}
