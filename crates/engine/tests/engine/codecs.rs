//! Compressed pixel data: an RLE Lossless copy of a phantom must measure exactly like the
//! original (the fixtures themselves are all native Explicit VR Little Endian).

use dicom_core::value::PixelFragmentSequence;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use triage_engine::{Profile, SeriesOutcome, analyse_path};

use crate::support::{dicom, edited, entries, fixture, options, write_zip};

const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// PackBits with literal runs only (valid, if not compact), padded to even length with the
/// no-op header byte 0x80.
fn packbits(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for run in bytes.chunks(128) {
        out.push(u8::try_from(run.len() - 1).unwrap());
        out.extend_from_slice(run);
    }
    if out.len() % 2 == 1 {
        out.push(0x80);
    }
    out
}

/// PS3.5 Annex G: a 64-byte header, then one segment per byte plane, most significant first.
fn rle_frame(samples_le: &[u8]) -> Vec<u8> {
    let high: Vec<u8> = samples_le.chunks(2).map(|s| s[1]).collect();
    let low: Vec<u8> = samples_le.chunks(2).map(|s| s[0]).collect();
    let (high, low) = (packbits(&high), packbits(&low));
    let mut header = [0_u32; 16];
    header[0] = 2;
    header[1] = 64;
    header[2] = 64 + u32::try_from(high.len()).unwrap();
    let mut frame: Vec<u8> = header.iter().flat_map(|v| v.to_le_bytes()).collect();
    frame.extend(high);
    frame.extend(low);
    frame
}

fn metrics_of(path: &std::path::Path) -> triage_engine::LungMetrics {
    let analysis = analyse_path(path, &options(Profile::Production)).unwrap();
    match &analysis.series[0].outcome {
        SeriesOutcome::Success { metrics, .. } => metrics.clone(),
        SeriesOutcome::Failure { reason } => panic!("{reason}"),
    }
}

#[test]
fn rle_lossless_series_measures_like_the_native_one() {
    let native = fixture("ct-opacity.zip");
    let compressed: Vec<(String, Vec<u8>)> = entries(&native)
        .into_iter()
        .map(|(name, bytes)| {
            let pixels = dicom(&bytes)
                .element(tags::PIXEL_DATA)
                .unwrap()
                .to_bytes()
                .unwrap()
                .into_owned();
            let rle = edited(&bytes, |object| {
                let fragments = PixelFragmentSequence::new(vec![], vec![rle_frame(&pixels)]);
                object.put(DataElement::new(tags::PIXEL_DATA, VR::OB, fragments));
                object.update_meta(|meta| {
                    meta.transfer_syntax = RLE_LOSSLESS.to_owned();
                    meta.update_information_group_length();
                });
            });
            (name, rle)
        })
        .collect();
    assert_eq!(
        dicom(&compressed[0].1).meta().transfer_syntax(),
        RLE_LOSSLESS
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rle.zip");
    write_zip(&path, &compressed);
    assert_eq!(metrics_of(&path), metrics_of(&native));
}
