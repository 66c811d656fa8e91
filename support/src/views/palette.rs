//! The one colour palette of the course: the Okabe–Ito colours, distinguishable on white and for the
//! common colour-vision deficiencies. Charts draw their series from [`SERIES`], byte maps fill fields
//! with [`field_fill`], event pictures colour by kind from the named colours, and callout boxes
//! ([`crate::views::display::callout`]) take a border and a background from [`Tone`].

use std::fmt;

/// A colour as red, green and blue bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// The colour mixed with white: `amount` 0.0 keeps it, 1.0 gives white (clamped to 0..=1;
    /// NaN keeps the colour).
    pub fn lighten(self, amount: f64) -> Rgb {
        let t = if amount.is_nan() {
            0.0
        } else {
            amount.clamp(0.0, 1.0)
        };
        let mix = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * t).round() as u8;
        Rgb(mix(self.0), mix(self.1), mix(self.2))
    }
}

impl fmt::Display for Rgb {
    /// `#rrggbb`, as HTML and SVG take it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Okabe–Ito blue.
pub const BLUE: Rgb = Rgb(0, 114, 178);
/// Okabe–Ito vermillion.
pub const VERMILLION: Rgb = Rgb(213, 94, 0);
/// Okabe–Ito bluish green.
pub const GREEN: Rgb = Rgb(0, 158, 115);
/// Okabe–Ito reddish purple.
pub const PURPLE: Rgb = Rgb(204, 121, 167);
/// Okabe–Ito orange.
pub const ORANGE: Rgb = Rgb(230, 159, 0);
/// Okabe–Ito sky blue.
pub const SKY: Rgb = Rgb(86, 180, 233);
/// Black.
pub const BLACK: Rgb = Rgb(0, 0, 0);

/// Chart series colours, in the order series are added.
pub const SERIES: [Rgb; 7] = [BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY, BLACK];

/// The colour of series `i` (wrapping around after [`SERIES`]).
pub fn series(i: usize) -> Rgb {
    SERIES[i % SERIES.len()]
}

/// The fill of field `i` in a byte map: the series colour, lightened so labels stay readable.
pub fn field_fill(i: usize) -> Rgb {
    series(i).lighten(0.45)
}

/// What a callout box says about its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Something passed (an exercise verdict of PASS).
    Good,
    /// Something still to do (an exercise verdict of NOT YET).
    Warning,
    /// Something failed (a source excerpt that cannot be shown).
    Error,
}

impl Tone {
    /// The border colour.
    pub fn border(self) -> Rgb {
        match self {
            Tone::Good => GREEN,
            Tone::Warning => ORANGE,
            Tone::Error => VERMILLION,
        }
    }

    /// The background colour: the border colour, nearly white.
    pub fn background(self) -> Rgb {
        self.border().lighten(0.9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_print_as_hex_and_lighten_towards_white() {
        assert_eq!(BLUE.to_string(), "#0072b2");
        assert_eq!(BLUE.lighten(0.0), BLUE);
        assert_eq!(BLUE.lighten(1.0), Rgb(255, 255, 255));
        assert_eq!(BLUE.lighten(7.0), Rgb(255, 255, 255));
        assert_eq!(BLUE.lighten(f64::NAN), BLUE);
        assert_eq!(BLACK.lighten(0.5), Rgb(128, 128, 128));
    }

    #[test]
    fn series_and_fields_wrap_and_tones_differ() {
        assert_eq!(series(0), series(SERIES.len()));
        assert_ne!(field_fill(0), field_fill(1));
        assert_ne!(Tone::Good.border(), Tone::Warning.border());
        assert_ne!(Tone::Warning.border(), Tone::Error.border());
        assert_eq!(Tone::Error.background(), VERMILLION.lighten(0.9));
    }
}
