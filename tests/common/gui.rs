//! Helpers of the GUI tests (egui_kittest).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use muselab::app::MuseApp;

/// Steps the UI until `done` holds (background jobs answer on other threads).
pub fn step_until(harness: &mut Harness<'_, MuseApp>, what: &str, done: impl Fn(&MuseApp) -> bool) {
    let started = Instant::now();
    while !done(harness.state()) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}; status messages: {:?}",
            harness.state().messages
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.step();
}

/// A harness over `app`, 1200 px wide and `height` high.
pub fn harness_of(app: MuseApp, height: f32) -> Harness<'static, MuseApp> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, height))
        .build_ui_state(|ui, app: &mut MuseApp| app.show(ui), app)
}

/// Clicks points of the latent map's plane, away from the corpus dots, until one decodes (a
/// click on a dot opens that tune instead; where the dots lie depends on the run).
pub fn click_map_until_decoded(harness: &mut Harness<'_, MuseApp>) {
    let candidates = [
        (500.0, 420.0),
        (330.0, 120.0),
        (330.0, 700.0),
        (760.0, 120.0),
        (760.0, 700.0),
    ];
    let mut decoded = false;
    for (x, y) in candidates {
        let at = egui::pos2(x, y);
        harness.event(egui::Event::PointerMoved(at));
        harness.step();
        let before = harness.state().map.current_score.clone();
        for pressed in [true, false] {
            harness.event(egui::Event::PointerButton {
                pos: at,
                button: egui::PointerButton::Primary,
                pressed,
                modifiers: egui::Modifiers::NONE,
            });
            harness.step();
        }
        step_until(harness, "an answer to the click", |app| {
            app.map.current_score.is_some() && app.map.current_score != before
        });
        if harness.state().map.current_label == "decoded point" {
            decoded = true;
            break;
        }
    }
    assert!(decoded, "every candidate point lay on a dot");
}
