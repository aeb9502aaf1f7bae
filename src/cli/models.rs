//! `muselab models`: every model's card, its networks built at the default settings on its
//! default corpus.

use std::collections::HashMap;

use crate::models::ModelKind;
use crate::models::card::ModelCard;
use crate::training::{RunConfig, model_card};

/// Prints each model's card (text, or one JSON object per line). Exit code 1 if one failed.
pub fn models(json: bool) -> i32 {
    let assets = crate::corpus::assets_dir();
    let mut corpora = HashMap::new();
    let mut failed = false;
    for kind in ModelKind::ALL {
        let config = RunConfig::new(kind);
        let scores = corpora.entry(config.corpus.clone()).or_insert_with(|| {
            crate::data::load_scores(&config.corpus_dir(&assets), None).map(|(s, _)| s)
        });
        let card = match scores {
            Ok(scores) => model_card(&config, scores),
            Err(e) => Err(e.clone()),
        };
        match card {
            Ok(card) if json => match serde_json::to_string(&card) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    failed = true;
                    eprintln!("muselab models: {}: {e}", kind.id());
                }
            },
            Ok(card) => println!("{}", describe(&card)),
            Err(e) => {
                failed = true;
                eprintln!("muselab models: {}: {e}", kind.id());
            }
        }
    }
    i32::from(failed)
}

/// A card as text.
pub fn describe(card: &ModelCard) -> String {
    let mut out = format!(
        "{} — {}\n  formula:    {}\n  reference:  {}\n  parameters: {}\n  layers:\n",
        card.id, card.title, card.formula, card.reference, card.parameters
    );
    for layer in &card.layers {
        out.push_str(&format!("    {:<40} {:?}\n", layer.name, layer.shape));
    }
    if !card.deviations.is_empty() {
        out.push_str("  deviations from the reference:\n");
        for d in &card.deviations {
            out.push_str(&format!("    - {}: {}\n", d.what, d.why));
        }
    }
    out
}
