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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// The rows shown and each list's match count, kept while the search, the collapsed lists
    /// and the listings stay the same: with 100,000 files, filtering every frame would cost a
    /// string per file per frame.
    #[serde(skip)]
    filtered: Option<Filtered>,
}

#[derive(Clone, Debug)]
struct Filtered {
    /// What the rows were made from: the search, the collapsed titles, and per listing its
    /// folder and file count.
    key: (String, Vec<String>, Vec<(PathBuf, usize)>),
    rows: Vec<Row>,
    matches: Vec<usize>,
}

/// The rows of `corpora` under a lower-case `needle`, with each list's match count.
fn filter(corpora: &[CorpusListing], needle: &str, collapsed: &[String]) -> (Vec<Row>, Vec<usize>) {
    let mut rows = Vec::new();
    let mut matches = vec![0usize; corpora.len()];
    for (c, corpus) in corpora.iter().enumerate() {
        rows.push(Row::Header(c));
        let open = !collapsed.contains(&corpus.title);
        for (p, file) in corpus.files.iter().enumerate() {
            if needle.is_empty() || piece_name(file).to_lowercase().contains(needle) {
                matches[c] += 1;
                if open {
                    rows.push(Row::Piece(c, p));
                }
            }
        }
    }
    (rows, matches)
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
        let key = (
            needle,
            self.collapsed.clone(),
            corpora
                .iter()
                .map(|c| (c.dir.clone(), c.files.len()))
                .collect(),
        );
        if self.filtered.as_ref().is_none_or(|f| f.key != key) {
            let (rows, matches) = filter(corpora, &key.0, &self.collapsed);
            self.filtered = Some(Filtered { key, rows, matches });
        }
        if corpora.is_empty() {
            ui.spinner();
            return None;
        }
        // Taken out while the rows are drawn (a click changes `collapsed`), put back after.
        let filtered = self.filtered.take().expect("filtered above");
        let (rows, matches) = (&filtered.rows, &filtered.matches);
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
        self.filtered = Some(filtered);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(title: &str, names: &[&str]) -> CorpusListing {
        CorpusListing {
            title: title.into(),
            dir: PathBuf::from(title),
            files: names.iter().map(|n| PathBuf::from(title).join(n)).collect(),
        }
    }

    #[test]
    fn search_counts_matches_and_collapsed_lists_hide_their_rows() {
        let corpora = [
            listing("jigs", &["The Kesh.mid", "Morrison's.mid"]),
            listing("reels", &["Kesh Reel.mid", "Sally Gardens.mid"]),
        ];
        let (rows, matches) = filter(&corpora, "kesh", &[]);
        assert_eq!(matches, [1, 1]);
        assert_eq!(
            rows,
            [
                Row::Header(0),
                Row::Piece(0, 0),
                Row::Header(1),
                Row::Piece(1, 0)
            ]
        );
        let (rows, matches) = filter(&corpora, "", &["jigs".to_string()]);
        assert_eq!(matches, [2, 2], "a collapsed list still counts its pieces");
        assert_eq!(
            rows,
            [
                Row::Header(0),
                Row::Header(1),
                Row::Piece(1, 0),
                Row::Piece(1, 1)
            ]
        );
    }
}
