//! Key images: lung-windowed grey with the masks blended in translucent colours, a legend strip
//! below, PNG encoded.
//!
//! Every picture is `size` pixels wide; the plane is fitted into the top `size × size` square
//! with its physical aspect (pixel and slice spacing), nearest-neighbour, black around it, and a
//! black legend strip of [`LEGEND_HEIGHT`] pixels follows (not on thumbnails). Only mask voxels
//! get colour, so a coloured pixel in the square always lies in the lung mask.

use triage_engine::{LABEL_HIGH_ATTENUATION, LABEL_LOW_ATTENUATION, LABEL_LUNG, SeriesMasks};

use crate::font::draw_text;
use crate::{Artefact, VisualError};

/// Lung without finding: green, faint.
pub const COLOUR_LUNG: [u8; 3] = [40, 200, 80];
/// Low attenuation (< −950 HU): blue.
pub const COLOUR_LOW_ATTENUATION: [u8; 3] = [30, 120, 255];
/// High attenuation (≥ −700 HU): orange.
pub const COLOUR_HIGH_ATTENUATION: [u8; 3] = [255, 110, 0];
/// Opacity of each colour over the grey (0–1).
const ALPHA_LUNG: f32 = 0.15;
const ALPHA_FINDING: f32 = 0.5;
/// Height of the legend strip under key images.
pub const LEGEND_HEIGHT: usize = 24;

/// What each file is, as listed by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArtefactKind {
    Axial,
    Coronal,
    Thumbnail,
    /// The label volume as `.nii.gz`.
    Mask,
    /// The DICOM Segmentation.
    Segmentation,
}

impl ArtefactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Axial => "axial",
            Self::Coronal => "coronal",
            Self::Thumbnail => "thumbnail",
            Self::Mask => "mask",
            Self::Segmentation => "seg",
        }
    }
}

/// Sizes of the pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Width (and height of the picture above the legend) of key images, in pixels.
    pub size: usize,
    /// Width and height of the thumbnail.
    pub thumbnail_size: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            size: 512,
            thumbnail_size: 128,
        }
    }
}

/// An RGB picture before encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Image {
    fn black(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            rgb: vec![0; width * height * 3],
        }
    }

    /// PNG bytes (8-bit RGB).
    pub fn to_png(&self) -> Result<Vec<u8>, VisualError> {
        let mut out = Vec::new();
        let width = u32::try_from(self.width).unwrap_or(u32::MAX);
        let height = u32::try_from(self.height).unwrap_or(u32::MAX);
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.rgb)?;
        writer.finish()?;
        Ok(out)
    }
}

/// A plane to draw: `height × width` samples with their physical size per sample (mm).
struct Plane<'a> {
    width: usize,
    height: usize,
    /// (mm per column, mm per row).
    spacing: (f64, f64),
    grey: &'a dyn Fn(usize, usize) -> u8,
    label: &'a dyn Fn(usize, usize) -> u8,
}

/// Draws `plane` fitted into a `size × size` square at the top of an image `size` wide and
/// `size + legend` high.
fn draw(plane: &Plane<'_>, size: usize, legend: usize) -> Image {
    let mut image = Image::black(size, size + legend);
    let physical = (
        plane.width as f64 * plane.spacing.0,
        plane.height as f64 * plane.spacing.1,
    );
    let mm_per_pixel = physical.0.max(physical.1) / size as f64;
    if mm_per_pixel <= 0.0 || !mm_per_pixel.is_finite() {
        return image;
    }
    let drawn = (
        ((physical.0 / mm_per_pixel).round() as usize).min(size),
        ((physical.1 / mm_per_pixel).round() as usize).min(size),
    );
    let offset = ((size - drawn.0) / 2, (size - drawn.1) / 2);
    for py in 0..drawn.1 {
        let row = ((py as f64 + 0.5) * mm_per_pixel / plane.spacing.1) as usize;
        let row = row.min(plane.height - 1);
        for px in 0..drawn.0 {
            let column = ((px as f64 + 0.5) * mm_per_pixel / plane.spacing.0) as usize;
            let column = column.min(plane.width - 1);
            let grey = (plane.grey)(column, row);
            let colour = blend(grey, (plane.label)(column, row));
            let at = ((py + offset.1) * size + px + offset.0) * 3;
            image.rgb[at..at + 3].copy_from_slice(&colour);
        }
    }
    image
}

/// The grey level with the label's colour blended in.
fn blend(grey: u8, label: u8) -> [u8; 3] {
    let (colour, alpha) = match label {
        LABEL_LUNG => (COLOUR_LUNG, ALPHA_LUNG),
        LABEL_LOW_ATTENUATION => (COLOUR_LOW_ATTENUATION, ALPHA_FINDING),
        LABEL_HIGH_ATTENUATION => (COLOUR_HIGH_ATTENUATION, ALPHA_FINDING),
        _ => return [grey; 3],
    };
    colour.map(|c| (f32::from(grey) * (1.0 - alpha) + f32::from(c) * alpha).round() as u8)
}

/// Writes the legend (colour swatch and name per mask) into the strip under the square.
fn draw_legend(image: &mut Image, size: usize) {
    let entries = [
        (COLOUR_LUNG, "lung"),
        (COLOUR_LOW_ATTENUATION, "<-950HU"),
        (COLOUR_HIGH_ATTENUATION, ">=-700HU"),
    ];
    let top = size + (LEGEND_HEIGHT - 10) / 2;
    let mut x = 4;
    for (colour, name) in entries {
        for y in top..top + 10 {
            for dx in 0..10 {
                if x + dx < image.width {
                    let at = (y * image.width + x + dx) * 3;
                    image.rgb[at..at + 3].copy_from_slice(&colour);
                }
            }
        }
        draw_text(
            &mut image.rgb,
            image.width,
            (x + 13, top + 1),
            name,
            [255; 3],
            1,
        );
        x += 13 + name.len() * 8 + 10;
    }
}

/// The key images of one series: an `axial-<z>.png` per key slice (largest abnormal area first),
/// `coronal-<row>.png` and `thumbnail.png` (the first key slice, without legend).
pub fn key_images(
    masks: &SeriesMasks,
    options: RenderOptions,
) -> Result<Vec<Artefact>, VisualError> {
    let size = options.size.max(16);
    let [row_spacing, column_spacing] = masks.geometry.pixel_spacing;
    let mut artefacts = Vec::new();
    for key in &masks.key_slices {
        let grey = |x: usize, y: usize| key.grey[y * masks.columns + x];
        let label = |x: usize, y: usize| masks.label(x, y, key.z);
        let plane = Plane {
            width: masks.columns,
            height: masks.rows,
            spacing: (column_spacing, row_spacing),
            grey: &grey,
            label: &label,
        };
        let mut image = draw(&plane, size, LEGEND_HEIGHT);
        draw_legend(&mut image, size);
        artefacts.push(Artefact {
            name: format!("axial-{:04}.png", key.z),
            kind: ArtefactKind::Axial,
            bytes: image.to_png()?,
        });
        if artefacts.len() == 1 {
            let thumbnail = draw(&plane, options.thumbnail_size.max(16), 0);
            artefacts.push(Artefact {
                name: "thumbnail.png".to_owned(),
                kind: ArtefactKind::Thumbnail,
                bytes: thumbnail.to_png()?,
            });
        }
    }
    if let Some(coronal) = &masks.coronal {
        let slices = masks.labels.len();
        // Superior at the top: the slice furthest along +Z (head-wards in LPS) comes first.
        let head_last = masks.geometry.normal[2] >= 0.0;
        let slice_of = |row: usize| if head_last { slices - 1 - row } else { row };
        let grey = |x: usize, r: usize| coronal.grey[slice_of(r) * masks.columns + x];
        let label = |x: usize, r: usize| masks.label(x, coronal.row, slice_of(r));
        let plane = Plane {
            width: masks.columns,
            height: slices,
            spacing: (column_spacing, masks.geometry.slice_spacing),
            grey: &grey,
            label: &label,
        };
        let mut image = draw(&plane, size, LEGEND_HEIGHT);
        draw_legend(&mut image, size);
        artefacts.push(Artefact {
            name: format!("coronal-{:04}.png", coronal.row),
            kind: ArtefactKind::Coronal,
            bytes: image.to_png()?,
        });
    }
    Ok(artefacts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_engine::LABEL_BACKGROUND;

    #[test]
    fn blending_keeps_background_grey_and_colours_each_mask_differently() {
        assert_eq!(blend(100, LABEL_BACKGROUND), [100; 3]);
        let colours = [
            blend(100, LABEL_LUNG),
            blend(100, LABEL_LOW_ATTENUATION),
            blend(100, LABEL_HIGH_ATTENUATION),
        ];
        for c in colours {
            assert!(c[0] != c[1] || c[1] != c[2], "{c:?} is grey");
        }
        assert!(colours[0] != colours[1] && colours[1] != colours[2]);
    }
}
