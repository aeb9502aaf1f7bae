//! The adversarial runs' health panel on the training dashboard: the warnings of
//! `models::gan_health` (discriminator too strong, vanishing gradient, mode collapse), each with
//! the remedies this model's form can apply to the next run.

use egui::{RichText, Ui};

use super::theme;
use super::training_dashboard::{DashboardAction, TrainingDashboard};
use crate::models::gan_health::{self, Remedy};
use crate::training::ModelConfig;

impl TrainingDashboard {
    /// The health indicators of an adversarial run, each with remedies for the next run.
    pub(super) fn health_ui(&mut self, ui: &mut Ui) -> Option<DashboardAction> {
        let run = self.run.as_ref()?;
        let series = |i: usize| -> Vec<f64> {
            run.steps
                .iter()
                .filter_map(|s| s.losses.get(i).copied())
                .collect()
        };
        let minimax = matches!(self.settings.configs.iter().find(|c| c.model == run.model).map(|c| &c.hyperparameters),
            Some(ModelConfig::Gan(c)) if c.non_saturating == 0);
        let mut warnings: Vec<_> = gan_health::discriminator_warning(&series(3), 50)
            .into_iter()
            .chain(gan_health::gradient_warning(&series(4), 50, minimax))
            .collect();
        if let Some(last) = run.epochs.last() {
            let get = |n: &str| {
                last.validation
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| *v)
            };
            if let (Some(samples), Some(corpus)) =
                (get("sample diversity"), get("corpus diversity"))
            {
                warnings.extend(gan_health::collapse_warning(samples, corpus));
            }
        }
        ui.horizontal(|ui| {
            ui.label(RichText::new("Health").strong());
            if warnings.is_empty() {
                ui.colored_label(theme::GOOD, "no warning: D and G are still playing");
            }
        });
        let mut applied = None;
        let model = run.model;
        let form = self.settings.config_for(model).clone();
        for warning in &warnings {
            ui.colored_label(theme::ERROR, format!("warning: {}", warning.title))
                .on_hover_text(&warning.explanation);
            ui.label(RichText::new(&warning.explanation).weak());
            // Only the remedies this model has a setting for, and that are not in place yet.
            let offered: Vec<Remedy> = warning
                .remedies
                .iter()
                .copied()
                .filter(|&r| form.clone().apply_remedy(r))
                .collect();
            ui.horizontal_wrapped(|ui| {
                if offered.is_empty() {
                    ui.label(RichText::new("(every remedy the form offers is already set)").weak());
                }
                for remedy in offered {
                    if ui
                        .button(remedy.label())
                        .on_hover_text("Changes the form for the next run")
                        .clicked()
                    {
                        applied = Some(remedy);
                    }
                }
            });
        }
        if let Some(remedy) = applied {
            self.settings.config_for(model).apply_remedy(remedy);
            self.message = Some(format!(
                "Applied \"{}\" to the {} form: stop this run and train again to use it.",
                remedy.label(),
                model.id()
            ));
        }
        None
    }
}
