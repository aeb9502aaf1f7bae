//! Colours and sizes shared by the views, in one place.

use egui::Color32;

/// Track colours, cycled: soprano red, alto amber, tenor green, bass blue, then more.
pub const TRACK_COLORS: [Color32; 8] = [
    Color32::from_rgb(230, 85, 80),
    Color32::from_rgb(235, 170, 60),
    Color32::from_rgb(90, 185, 110),
    Color32::from_rgb(80, 140, 230),
    Color32::from_rgb(175, 110, 220),
    Color32::from_rgb(60, 190, 190),
    Color32::from_rgb(220, 110, 170),
    Color32::from_rgb(160, 160, 160),
];

/// The colour of track `index`.
pub fn track_color(index: usize) -> Color32 {
    TRACK_COLORS[index % TRACK_COLORS.len()]
}

/// Piano-roll background of a white-key row.
pub const ROW_WHITE: Color32 = Color32::from_rgb(38, 40, 46);
/// Piano-roll background of a black-key row.
pub const ROW_BLACK: Color32 = Color32::from_rgb(30, 31, 36);
/// Line at each C.
pub const OCTAVE_LINE: Color32 = Color32::from_rgb(70, 72, 80);
/// Bar lines.
pub const BAR_LINE: Color32 = Color32::from_rgb(105, 108, 120);
/// Beat lines.
pub const BEAT_LINE: Color32 = Color32::from_rgb(52, 54, 62);
/// The playhead.
pub const PLAYHEAD: Color32 = Color32::from_rgb(255, 235, 120);
/// Error text.
pub const ERROR: Color32 = Color32::from_rgb(255, 110, 100);
/// Width of the keyboard strip of the piano roll.
pub const KEYBOARD_WIDTH: f32 = 46.0;
/// Height of the bar-number ruler of the piano roll.
pub const RULER_HEIGHT: f32 = 18.0;

/// A figure that meets its goal (beats the paper, a healthy band).
pub const GOOD: Color32 = Color32::from_rgb(120, 200, 120);
/// The curve that matters most in a plot (the validation NLL).
pub const ACCENT: Color32 = Color32::from_rgb(255, 170, 80);

/// The band over selected bars in the piano roll.
pub const SELECTION: Color32 = Color32::from_rgba_premultiplied(60, 56, 24, 60);
