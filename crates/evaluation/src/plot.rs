//! Figures drawn with plotters: the ROC curve with a pointwise 95 % band on sensitivity
//! (Wilson, at each point of the curve) and the operating points marked, and the calibration
//! plot. SVG for browsers and documents, PNG for places that cannot show SVG. The text font
//! (DejaVu Sans) is embedded in the binary and registered with plotters once, so PNG text
//! renders on a machine without any system font.

use std::error::Error;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::EvalError;
use crate::evaluation::Evaluation;
use crate::wilson::wilson;

const FONT: &str = "DejaVu Sans";
const SIZE: (u32, u32) = (720, 640);

type DrawResult = Result<(), Box<dyn Error>>;

fn font() -> Result<(), EvalError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded font could not be loaded".to_owned())
        })
        .clone()
        .map_err(EvalError::Render)
}

fn render(err: Box<dyn Error>) -> EvalError {
    EvalError::Render(err.to_string())
}

/// The ROC curve as an SVG document.
///
/// # Errors
/// [`EvalError::Render`].
pub fn roc_svg(evaluation: &Evaluation) -> Result<String, EvalError> {
    font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw_roc(&root, evaluation).map_err(render)?;
    }
    Ok(svg)
}

/// The ROC curve as a PNG image.
///
/// # Errors
/// [`EvalError::Render`].
pub fn roc_png(evaluation: &Evaluation) -> Result<Vec<u8>, EvalError> {
    font()?;
    let (width, height) = SIZE;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw_roc(&root, evaluation).map_err(render)?;
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| EvalError::Render(e.to_string()))?;
    writer
        .write_image_data(&rgb)
        .map_err(|e| EvalError::Render(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| EvalError::Render(e.to_string()))?;
    Ok(png_bytes)
}

/// The calibration plot (observed share of pathology against mean score per bin) as SVG.
///
/// # Errors
/// [`EvalError::Render`].
pub fn calibration_svg(evaluation: &Evaluation) -> Result<String, EvalError> {
    font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw_calibration(&root, evaluation).map_err(render)?;
    }
    Ok(svg)
}

fn draw_roc<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, e: &Evaluation) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let caption = format!(
        "ROC: AUC {:.3} (95% CI {:.3}–{:.3}), n = {}",
        e.auc, e.auc_ci_delong.low, e.auc_ci_delong.high, e.n
    );
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("1 − specificity (false-positive rate)")
        .y_desc("sensitivity")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()?;

    // The band: Wilson interval of the sensitivity at each point, upper edge left to right,
    // then the lower edge back.
    let positives = e.positives as u64;
    let bounds: Vec<(f64, f64, f64)> = e
        .roc
        .iter()
        .map(|p| {
            let hits = (p.tpr * positives as f64).round() as u64;
            let ci = wilson(hits, positives);
            (
                p.fpr,
                ci.map_or(p.tpr, |c| c.low),
                ci.map_or(p.tpr, |c| c.high),
            )
        })
        .collect();
    let mut band: Vec<(f64, f64)> = bounds.iter().map(|&(x, _, high)| (x, high)).collect();
    band.extend(bounds.iter().rev().map(|&(x, low, _)| (x, low)));
    chart
        .draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.15))))?
        .label("95% band (sensitivity, Wilson)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BLUE.mix(0.15).filled()));
    chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))?;
    chart
        .draw_series(LineSeries::new(
            e.roc.iter().map(|p| (p.fpr, p.tpr)),
            BLUE.stroke_width(2),
        ))?
        .label("ROC curve")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    let operating = (1.0 - e.specificity, e.sensitivity);
    chart
        .draw_series(std::iter::once(Circle::new(operating, 6, RED.filled())))?
        .label(format!(
            "threshold {:.3}: sens {:.2}, spec {:.2}",
            e.threshold, e.sensitivity, e.specificity
        ))
        .legend(|(x, y)| Circle::new((x + 8, y), 5, RED.filled()));
    if let Some(rule_out) = e.rule_out {
        chart
            .draw_series(std::iter::once(TriangleMarker::new(
                (1.0 - rule_out.specificity, rule_out.sensitivity),
                7,
                GREEN.filled(),
            )))?
            .label(format!(
                "rule-out {:.3}: sens {:.2}, spec {:.2}",
                rule_out.threshold, rule_out.sensitivity, rule_out.specificity
            ))
            .legend(|(x, y)| TriangleMarker::new((x + 8, y), 6, GREEN.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 13))
        .draw()?;
    root.present()?;
    Ok(())
}

fn draw_calibration<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, e: &Evaluation) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let low = e.calibration.first().map_or(0.0, |b| b.low);
    let high = e
        .calibration
        .last()
        .map_or(1.0, |b| b.high)
        .max(low + f64::EPSILON);
    let mut chart = ChartBuilder::on(root)
        .caption(format!("Calibration, n = {}", e.n), (FONT, 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(low..high, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("mean score in bin")
        .y_desc("observed share of pathology")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()?;
    if low >= 0.0 && high <= 1.0 {
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.3)));
    }
    chart
        .draw_series(LineSeries::new(
            e.calibration
                .iter()
                .map(|b| (b.mean_score, b.observed_rate)),
            BLUE.stroke_width(2),
        ))?
        .label("observed")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    chart.draw_series(
        e.calibration
            .iter()
            .map(|b| Circle::new((b.mean_score, b.observed_rate), 4, BLUE.filled())),
    )?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 13))
        .draw()?;
    root.present()?;
    Ok(())
}
