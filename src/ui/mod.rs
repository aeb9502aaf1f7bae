//! Views: one struct per view, each drawing itself into an `egui::Ui` and returning what the
//! user asked for; the app turns that into commands.

pub mod anticipation_view;
pub mod benchmarks_view;
pub mod code_units_view;
pub mod compare;
pub mod corpus_browser;
pub mod gan_health_panel;
pub mod gibbs_view;
pub mod latent_map;
pub mod live_run;
pub mod piano_roll;
pub mod start_here;
pub mod theme;
pub mod training_dashboard;
pub mod training_plots;

/// What a view that writes music asks the app to do with a piece (the Gibbs chain, the
/// Anticipation and the Code units views).
#[derive(Clone, Debug)]
pub enum ScoreAction {
    /// Play it.
    Play(crate::music::Score),
    /// Show it in the main piano roll.
    Open(crate::music::Score),
    /// Write it to a temporary MIDI file and copy the file's path (for a DAW).
    CopyMidi(crate::music::Score),
}

/// The "Copy as MIDI file" button of the views that write music: true when clicked.
pub fn copy_midi_button(ui: &mut egui::Ui) -> bool {
    ui.button("Copy as MIDI file")
        .on_hover_text(
            "Write it as a .mid file in the temporary folder and copy the file's path: paste it into your DAW's import dialog or a file manager",
        )
        .clicked()
}

/// "model · run" for a checkpoint folder `models/<model>/<run>` ("vae · shipped").
pub fn run_label(run: &std::path::Path) -> String {
    let name = |p: Option<&std::ffi::OsStr>| p.map(|n| n.to_string_lossy().into_owned());
    format!(
        "{} · {}",
        name(run.parent().and_then(|p| p.file_name())).unwrap_or_default(),
        name(run.file_name()).unwrap_or_default()
    )
}
