//! An archive built here: one good CT series next to series and files that must fail on their
//! own without stopping the others (or the process).

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use triage_engine::{Profile, SeriesResult, analyse_path};

use crate::support::{edited, entries, failure, fixture, options, success, write_zip};

const MR_SERIES: &str = "1.2.826.0.1.3680043.8.498.900001";
const BROKEN_SERIES: &str = "1.2.826.0.1.3680043.8.498.900002";
const ODD_SERIES: &str = "1.2.826.0.1.3680043.8.498.900003";
const SHORT_SERIES: &str = "1.2.826.0.1.3680043.8.498.900004";

fn renamed(series_uid: &str) -> impl Fn(&mut dicom_object::DefaultDicomObject) + '_ {
    move |object| {
        object.put_str(tags::SERIES_INSTANCE_UID, VR::UI, series_uid);
    }
}

/// 400 nested undefined-length sequences: enough to overflow a stack if parsed recursively.
fn deeply_nested_file() -> Vec<u8> {
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    let uid = b"1.2.840.10008.1.2.1\0";
    bytes.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
    bytes.extend_from_slice(&(uid.len() as u16).to_le_bytes());
    bytes.extend_from_slice(uid);
    for _ in 0..400 {
        bytes.extend_from_slice(&[
            0x40, 0x00, 0x60, 0x02, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        bytes.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    bytes
}

/// Pixel Data (the last element) shortened by one byte to an odd length, which no writer would
/// produce: decoders that split the value into 16-bit samples may panic on it.
fn odd_length_pixel_data(file: &[u8]) -> Vec<u8> {
    let header = [0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0];
    let at = file.windows(8).rposition(|w| w == header).unwrap();
    let len = u32::from_le_bytes(file[at + 8..at + 12].try_into().unwrap());
    let mut out = file[..file.len() - 1].to_vec();
    out[at + 8..at + 12].copy_from_slice(&(len - 1).to_le_bytes());
    out
}

fn build_archive(dir: &std::path::Path) -> std::path::PathBuf {
    let normal = entries(&fixture("ct-normal.zip"));
    let emphysema = entries(&fixture("ct-emphysema.zip"));
    let opacity = entries(&fixture("ct-opacity.zip"));
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, (_, bytes)) in normal.iter().enumerate() {
        files.push((format!("case/ct/{i:03}"), bytes.clone()));
    }
    for (i, (_, bytes)) in emphysema.iter().take(24).enumerate() {
        let mr = edited(bytes, |object| {
            renamed(MR_SERIES)(object);
            object.put_str(tags::MODALITY, VR::CS, "MR");
        });
        files.push((format!("case/mr/{i:03}.dcm"), mr));
    }
    for (i, (_, bytes)) in opacity.iter().take(24).enumerate() {
        let broken = edited(bytes, |object| {
            renamed(BROKEN_SERIES)(object);
            // Slice 10 lost most of its pixel data.
            if i == 10 {
                let short = PrimitiveValue::from(vec![0_u8; 100]);
                object.put(DataElement::new(tags::PIXEL_DATA, VR::OW, short));
            }
        });
        files.push((format!("case/broken/{i:03}"), broken));
    }
    for (i, (_, bytes)) in opacity.iter().skip(24).enumerate() {
        let odd = odd_length_pixel_data(&edited(bytes, renamed(ODD_SERIES)));
        files.push((format!("case/odd/{i:03}"), odd));
    }
    for (i, (_, bytes)) in normal.iter().take(5).enumerate() {
        files.push((
            format!("case/short/{i:03}"),
            edited(bytes, renamed(SHORT_SERIES)),
        ));
    }
    files.push(("case/hostile/nested".to_owned(), deeply_nested_file()));
    files.push(("case/readme.txt".to_owned(), b"not a DICOM file".to_vec()));
    let path = dir.join("mixed.zip");
    write_zip(&path, &files);
    path
}

fn by_series<'a>(rows: &'a [SeriesResult], uid: &str) -> &'a SeriesResult {
    rows.iter().find(|r| r.series_uid == uid).unwrap()
}

#[test]
fn each_bad_series_fails_with_its_reason_and_the_good_one_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = build_archive(dir.path());
    let analysis = analyse_path(&path, &options(Profile::Production)).unwrap();
    let rows = &analysis.series;
    assert_eq!(rows.len(), 6, "{rows:#?}");

    let good = &rows[0];
    let (probability, pathology, slices) = success(good);
    assert!(probability < 0.25 && !pathology && slices == 48);

    assert_eq!(
        failure(by_series(rows, MR_SERIES)),
        "not a CT series (Modality MR)"
    );
    let broken = failure(by_series(rows, BROKEN_SERIES));
    assert!(
        broken.starts_with("slice case/broken/010: cannot decode pixel data"),
        "{broken}"
    );
    let odd = failure(by_series(rows, ODD_SERIES));
    assert!(odd.contains("cannot decode pixel data"), "{odd}");
    assert_eq!(
        failure(by_series(rows, SHORT_SERIES)),
        "too few slices (5 < 20)"
    );
    // The file that could have crashed a recursive parser is one failed row of its own.
    let hostile = rows.last().unwrap();
    assert_eq!(hostile.path_to_study, "case/hostile");
    assert!(
        failure(hostile).contains("nest deeper"),
        "{}",
        failure(hostile)
    );
    // Series of one study share the study's folder (MR and short keep their source's study).
    assert_eq!(good.path_to_study, "case");
    assert_eq!(by_series(rows, SHORT_SERIES).path_to_study, "case");
    assert_eq!(by_series(rows, MR_SERIES).path_to_study, "case/mr");
}
