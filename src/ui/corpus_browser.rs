//! The corpus browser: the bundled corpora and opened folders as collapsible lists of pieces,
//! filtered by a search box.

use std::path::PathBuf;

use egui::Ui;

use crate::corpus::CorpusListing;

/// What the user asked the browser for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrowserAction {
    /// Open this piece.
    Open(PathBuf),
}

/// One row of the flattened list.
enum Row {
    Header(usize),
    Piece(usize, usize),
}

/// Browser state: the search text and which lists are collapsed.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CorpusBrowser {
    /// Case-insensitive filter on file names.
    pub search: String,
    /// Titles of the collapsed lists.
    pub collapsed: Vec<String>,
}

impl CorpusBrowser {
    /// Draws the browser. `current` is the open piece, highlighted in the list.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        corpora: &[CorpusListing],
        current: Option<&PathBuf>,
    ) -> Option<BrowserAction> {
        let mut action = None;
        ui.add(
            egui::TextEdit::singleline(&mut self.search)
                .hint_text("Search pieces")
                .desired_width(f32::INFINITY),
        );
        let needle = self.search.to_lowercase();
        let mut rows = Vec::new();
        let mut matches = vec![0usize; corpora.len()];
        for (c, corpus) in corpora.iter().enumerate() {
            rows.push(Row::Header(c));
            let open = !self.collapsed.contains(&corpus.title);
            for (p, file) in corpus.files.iter().enumerate() {
                if needle.is_empty() || piece_name(file).to_lowercase().contains(&needle) {
                    matches[c] += 1;
                    if open {
                        rows.push(Row::Piece(c, p));
                    }
                }
            }
        }
        if corpora.is_empty() {
            ui.spinner();
            return None;
        }
        let row_height = ui.spacing().interact_size.y;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show_rows(ui, row_height, rows.len(), |ui, range| {
                for row in &rows[range] {
                    match *row {
                        Row::Header(c) => {
                            let corpus = &corpora[c];
                            let open = !self.collapsed.contains(&corpus.title);
                            let arrow = if open { "-" } else { "+" };
                            let text = format!("{arrow} {} ({})", corpus.title, matches[c]);
                            if ui
                                .selectable_label(false, egui::RichText::new(text).strong())
                                .on_hover_text(corpus.dir.display().to_string())
                                .clicked()
                            {
                                if open {
                                    self.collapsed.push(corpus.title.clone());
                                } else {
                                    self.collapsed.retain(|t| t != &corpus.title);
                                }
                            }
                        }
                        Row::Piece(c, p) => {
                            let file = &corpora[c].files[p];
                            let selected = current == Some(file);
                            ui.horizontal(|ui| {
                                ui.add_space(14.0);
                                if ui.selectable_label(selected, piece_name(file)).clicked() {
                                    action = Some(BrowserAction::Open(file.clone()));
                                }
                            });
                        }
                    }
                }
            });
        action
    }
}

/// A file's display name: its stem.
pub fn piece_name(path: &std::path::Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}
