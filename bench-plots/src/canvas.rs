//! The picture every plot draws on: an RGB buffer plotters draws into, with the embedded
//! font registered, written out as a PNG; and the few styles the plots share.

use std::{fmt::Display, fs::File, io::BufWriter, path::Path, sync::Once};

use plotters::{
    coord::Shift,
    prelude::{BitMapBackend, DrawingArea, IntoDrawingArea, RGBColor, WHITE},
    style::{FontStyle, register_font},
};

/// A drawing area of the canvas: what a plot draws on.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Series colours, in order (a colour-blind-safe palette: Okabe and Ito's).
pub(crate) const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
];

/// The font family every text is set in (registered from the embedded DejaVu Sans).
pub(crate) const FONT: &str = "sans-serif";

/// A plotters failure as the program's error line.
pub(crate) fn failed(error: impl Display) -> String {
    format!("draw: {error}")
}

/// Registers the embedded fonts under [`FONT`], once per process.
fn register_fonts() -> Result<(), String> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        for (style, bytes) in [
            (FontStyle::Normal, dejavu::sans::regular()),
            (FontStyle::Bold, dejavu::sans::bold()),
        ] {
            if register_font(FONT, style, bytes).is_err() {
                result = Err("the embedded DejaVu Sans font is unreadable".to_owned());
            }
        }
    });
    result
}

/// A `width` × `height` white picture.
pub(crate) struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A white canvas of `width` × `height` pixels.
    pub(crate) fn new(width: u32, height: u32) -> Result<Self, String> {
        register_fonts()?;
        Ok(Canvas {
            width,
            height,
            pixels: vec![255; width as usize * height as usize * 3],
        })
    }

    /// Runs `draw` on the whole canvas and keeps what it drew.
    pub(crate) fn draw(
        &mut self,
        draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
    ) -> Result<(), String> {
        let root = BitMapBackend::with_buffer(&mut self.pixels, (self.width, self.height))
            .into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        draw(&root)?;
        root.present().map_err(failed)
    }

    /// Writes the canvas to `path` as an 8-bit RGB PNG.
    pub(crate) fn save(&self, path: &Path) -> Result<(), String> {
        let file =
            File::create(path).map_err(|error| format!("create {}: {error}", path.display()))?;
        let mut encoder = png::Encoder::new(BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let encoded = encoder
            .write_header()
            .and_then(|mut writer| writer.write_image_data(&self.pixels));
        encoded.map_err(|error| format!("write {}: {error}", path.display()))
    }
}
