//! Builds a clinically sized series (512×512 by default, N slices) from a 128×128 phantom
//! archive by nearest-neighbour upscaling, to benchmark the engine without pydicom.
//!
//! `cargo run --release -p triage-engine --example large_study -- PHANTOM.zip OUT.zip [SLICES]`

use std::io::{Read, Write};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use zip::write::SimpleFileOptions;

const FACTOR: usize = 4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [phantom, out, rest @ ..] = args.as_slice() else {
        return Err("usage: large_study PHANTOM.zip OUT.zip [SLICES]".into());
    };
    let slices: usize = rest.first().map_or(Ok(300), |s| s.parse())?;

    let mut archive = zip::ZipArchive::new(std::fs::File::open(phantom)?)?;
    let mut templates = Vec::new();
    for i in 0..archive.len() {
        let mut bytes = Vec::new();
        archive.by_index(i)?.read_to_end(&mut bytes)?;
        templates.push(bytes);
    }
    let series_uid = format!("2.25.{}", std::process::id());
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out)?);
    for k in 0..slices {
        let template = &templates[k * templates.len() / slices];
        let mut object = OpenFileOptions::new().from_reader(template.as_slice())?;
        let rows = usize::from(object.element(tags::ROWS)?.to_int::<u16>()?);
        let columns = usize::from(object.element(tags::COLUMNS)?.to_int::<u16>()?);
        let small = object.element(tags::PIXEL_DATA)?.to_bytes()?.into_owned();
        let mut large = Vec::with_capacity(small.len() * FACTOR * FACTOR);
        for r in 0..rows * FACTOR {
            for c in 0..columns * FACTOR {
                let at = 2 * ((r / FACTOR) * columns + c / FACTOR);
                large.extend_from_slice(&small[at..at + 2]);
            }
        }
        let size = |n: usize| PrimitiveValue::from(u16::try_from(n * FACTOR).unwrap_or(u16::MAX));
        object.put(DataElement::new(tags::ROWS, VR::US, size(rows)));
        object.put(DataElement::new(tags::COLUMNS, VR::US, size(columns)));
        object.put_str(tags::PIXEL_SPACING, VR::DS, "0.175\\0.175");
        object.put_str(tags::SLICE_THICKNESS, VR::DS, "0.25");
        object.put_str(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            format!("0\\0\\{}", k as f64 * 0.25),
        );
        object.put_str(tags::INSTANCE_NUMBER, VR::IS, (k + 1).to_string());
        object.put_str(tags::SERIES_INSTANCE_UID, VR::UI, series_uid.as_str());
        object.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::from(large),
        ));
        let mut bytes = Vec::new();
        object.write_all(&mut bytes)?;
        zip.start_file(format!("LARGE/{k:05}"), SimpleFileOptions::default())?;
        zip.write_all(&bytes)?;
    }
    zip.finish()?;
    println!(
        "{out}: {slices} slices of {}×{}",
        128 * FACTOR,
        128 * FACTOR
    );
    Ok(())
}
