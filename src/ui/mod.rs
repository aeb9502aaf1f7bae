//! Views: one struct per view, each drawing itself into an `egui::Ui` and returning what the
//! user asked for; the app turns that into commands.

pub mod corpus_browser;
pub mod latent_map;
pub mod piano_roll;
pub mod theme;
pub mod training_dashboard;
