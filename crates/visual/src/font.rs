//! Legend text drawn with the public-domain 8×8 glyphs of `font8x8` (no font rendering stack).

use font8x8::legacy::BASIC_LEGACY;

/// Draws `text` at (x, y) in `colour` on an RGB image `width` pixels wide, `scale` pixels per
/// glyph dot; characters without a glyph are left blank.
pub(crate) fn draw_text(
    rgb: &mut [u8],
    width: usize,
    (x, y): (usize, usize),
    text: &str,
    colour: [u8; 3],
    scale: usize,
) {
    let height = rgb.len() / 3 / width;
    for (i, ch) in text.chars().enumerate() {
        let Some(glyph) = BASIC_LEGACY.get(ch as usize) else {
            continue;
        };
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let px = x + (i * 8 + col) * scale + dx;
                        let py = y + row * scale + dy;
                        if px < width && py < height {
                            let at = (py * width + px) * 3;
                            rgb[at..at + 3].copy_from_slice(&colour);
                        }
                    }
                }
            }
        }
    }
}
