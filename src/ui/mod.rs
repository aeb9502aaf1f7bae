//! Views: one struct per view, each drawing itself into an `egui::Ui` and returning what the
//! user asked for; the app turns that into commands.

pub mod anticipation_view;
pub mod code_units_view;
pub mod compare;
pub mod corpus_browser;
pub mod gan_health_panel;
pub mod gibbs_view;
pub mod latent_map;
pub mod live_run;
pub mod piano_roll;
pub mod theme;
pub mod training_dashboard;
pub mod training_plots;
