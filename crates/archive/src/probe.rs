//! Telling whether one stream (a loose file, a ZIP entry) is DICOM and which study and series it
//! belongs to, reading only its header: what `triage analyse` groups files by.

use std::io::{self, Read};

use crate::detect::{DICOM_MAGIC_END, has_dicom_magic, read_up_to};
use crate::dicom_header::{HEADER_CAP, read_header};

/// What the first bytes and the header of a stream say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// No `DICM` marker at byte 128.
    NotDicom,
    /// A DICOM file; the UIDs are `None` when the header cannot be parsed or lacks them.
    Dicom {
        study_uid: Option<String>,
        series_uid: Option<String>,
    },
}

/// Reads at most the preamble and the header (capped at 4 MiB), never pixel data.
pub fn probe_dicom(source: impl Read) -> io::Result<Probe> {
    let mut source = source.take(HEADER_CAP);
    let mut head = [0u8; DICOM_MAGIC_END];
    let got = read_up_to(&mut source, &mut head)?;
    if !has_dicom_magic(&head[..got]) {
        return Ok(Probe::NotDicom);
    }
    let info = read_header(source).unwrap_or_default();
    Ok(Probe::Dicom {
        study_uid: info.study_uid,
        series_uid: info.series_uid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_not_dicom_and_a_bare_marker_is_dicom_without_uids() {
        assert_eq!(probe_dicom(&b"hello"[..]).unwrap(), Probe::NotDicom);
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        assert_eq!(
            probe_dicom(&bytes[..]).unwrap(),
            Probe::Dicom {
                study_uid: None,
                series_uid: None
            }
        );
    }
}
