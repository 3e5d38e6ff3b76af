//! Grouping DICOM headers into studies and series.

use std::collections::HashMap;

use triage_domain::{DicomSummary, SeriesSummary, StudySummary};

use crate::dicom_header::HeaderInfo;

/// Accumulates headers in archive order. Studies, and series within a study, keep the order in
/// which they are first seen (the central directory order), which is deterministic for a given
/// archive and follows how the uploader laid it out.
#[derive(Debug, Default)]
pub(crate) struct DicomTally {
    files: u64,
    studies: Vec<StudySummary>,
    study_index: HashMap<String, usize>,
    /// (study position, series UID) → series position within that study.
    series_index: HashMap<(usize, String), usize>,
}

impl DicomTally {
    /// Counts one DICOM file; `header` is `None` when it could not be parsed. Files without a
    /// study or series UID (a DICOMDIR, say) count but join no study.
    pub(crate) fn add(&mut self, header: Option<HeaderInfo>) {
        self.files += 1;
        let Some(HeaderInfo {
            study_uid: Some(study_uid),
            series_uid: Some(series_uid),
            modality,
            body_part,
        }) = header
        else {
            return;
        };
        let study = *self.study_index.entry(study_uid).or_insert_with_key(|uid| {
            self.studies.push(StudySummary {
                study_uid: uid.clone(),
                series: Vec::new(),
            });
            self.studies.len() - 1
        });
        let series_list = &mut self.studies[study].series;
        let series = *self
            .series_index
            .entry((study, series_uid))
            .or_insert_with_key(|(_, uid)| {
                series_list.push(SeriesSummary {
                    series_uid: uid.clone(),
                    modality: None,
                    body_part: None,
                    slices: 0,
                });
                series_list.len() - 1
            });
        let summary = &mut series_list[series];
        summary.slices += 1;
        // The first file that has a value decides; later slices of a series normally agree.
        if summary.modality.is_none() {
            summary.modality = modality;
        }
        if summary.body_part.is_none() {
            summary.body_part = body_part;
        }
    }

    pub(crate) fn finish(self) -> DicomSummary {
        DicomSummary {
            files: self.files,
            studies: self.studies,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(study: &str, series: &str, modality: Option<&str>) -> Option<HeaderInfo> {
        Some(HeaderInfo {
            study_uid: Some(study.into()),
            series_uid: Some(series.into()),
            modality: modality.map(Into::into),
            body_part: None,
        })
    }

    #[test]
    fn groups_in_first_seen_order() {
        let mut tally = DicomTally::default();
        tally.add(header("2", "2.1", None));
        tally.add(header("1", "1.1", Some("CT")));
        tally.add(header("2", "2.1", Some("CT")));
        tally.add(header("2", "2.2", Some("SR")));
        tally.add(None);
        tally.add(Some(HeaderInfo::default()));
        let summary = tally.finish();
        assert_eq!(summary.files, 6);
        let uids: Vec<_> = summary
            .studies
            .iter()
            .map(|s| s.study_uid.as_str())
            .collect();
        assert_eq!(uids, ["2", "1"]);
        let first = &summary.studies[0].series;
        assert_eq!(first.len(), 2);
        assert_eq!((first[0].series_uid.as_str(), first[0].slices), ("2.1", 2));
        assert_eq!(first[0].modality.as_deref(), Some("CT"));
        assert_eq!((first[1].series_uid.as_str(), first[1].slices), ("2.2", 1));
        assert_eq!(summary.studies[1].series[0].slices, 1);
    }
}
