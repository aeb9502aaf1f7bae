//! The "Start here" panel of a first launch: five things to try, each one click away, with the
//! shipped runs doing the work (nothing to train first). Dismissed once, it stays away (the
//! choice is saved with the settings).

use egui::{RichText, Ui};

/// What the user clicked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAction {
    /// Open a Bach chorale in the piano roll.
    OpenChorale,
    /// Play the open piece.
    Play,
    /// Open a Celtic tune and harmonize it with the mini-bach run.
    Harmonize,
    /// Show the latent map (it opens on a VAE run by itself).
    LatentMap,
    /// Show the training dashboard.
    Train,
    /// Close the panel for good.
    Dismiss,
}

/// What the panel needs to know to enable its buttons.
#[derive(Clone, Copy, Debug, Default)]
pub struct StartContext {
    /// A piece is open.
    pub has_piece: bool,
    /// A mini-bach run (shipped or the user's) exists to harmonize with.
    pub can_harmonize: bool,
    /// A run with a latent map exists.
    pub has_latent: bool,
}

/// Draws the panel in a small window; returns the click, if any.
pub fn show(ctx: &egui::Context, state: StartContext) -> Option<StartAction> {
    let mut action = None;
    let mut open = true;
    egui::Window::new("Start here")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-16.0, -40.0))
        .show(ctx, |ui| {
            action = steps(ui, state);
        });
    if !open {
        action = Some(StartAction::Dismiss);
    }
    action
}

fn steps(ui: &mut Ui, state: StartContext) -> Option<StartAction> {
    let mut action = None;
    let mut step =
        |ui: &mut Ui, n: usize, enabled: bool, label: &str, tip: &str, a: StartAction| {
            ui.horizontal(|ui| {
                ui.label(RichText::new(format!("{n}.")).weak());
                if ui
                    .add_enabled(enabled, egui::Button::new(label))
                    .on_hover_text(tip)
                    .on_disabled_hover_text(tip)
                    .clicked()
                {
                    action = Some(a);
                }
            });
        };
    ui.label(
        "Everything here works without training: muselab ships a pretrained run of every model.",
    );
    step(
        ui,
        1,
        true,
        "Open a chorale",
        "Open a Bach chorale from the bundled corpus in the piano roll",
        StartAction::OpenChorale,
    );
    step(
        ui,
        2,
        state.has_piece,
        "Play it",
        "Play the open piece (space bar); the instruments come from a General MIDI SoundFont when one is installed",
        StartAction::Play,
    );
    step(
        ui,
        3,
        state.can_harmonize,
        "Harmonize a Celtic tune",
        "Open a Celtic tune and let the shipped mini-bach write alto, tenor and bass under it",
        StartAction::Harmonize,
    );
    step(
        ui,
        4,
        state.has_latent,
        "Click the latent map",
        "The shipped VAE's 2-D latent space: click anywhere to hear the melody it decodes there",
        StartAction::LatentMap,
    );
    step(
        ui,
        5,
        true,
        "Train a model",
        "Pick a model and a corpus, press Train, and watch it learn",
        StartAction::Train,
    );
    ui.separator();
    if ui
        .small_button("Don't show again")
        .on_hover_text("Close this panel; it will not come back")
        .clicked()
    {
        action = Some(StartAction::Dismiss);
    }
    action
}
