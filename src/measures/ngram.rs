//! The dumb baselines every model is measured against: a unigram model (token frequencies) and
//! a Markov chain over the previous tokens, both fitted on the run's own training pieces.
//!
//! Smoothing: the unigram is add-k (k = [`ADD_K`]); each longer context is smoothed towards the
//! next shorter one (a Dirichlet prior of strength k·V centred on the shorter context's
//! distribution, which is add-k smoothing with the shorter model as the base instead of the
//! uniform one). So an unseen context falls back to what a shorter one knows, and every
//! probability is above zero: the NLL of held-out music is always finite.
//!
//! A stream may carry a *condition* token per step (mini-bach's soprano): the condition then
//! takes the first place of every context, so the chain is p(token | soprano, previous tokens).

use std::collections::HashMap;

use rand::Rng;

/// Add-k smoothing constant.
pub const ADD_K: f64 = 0.1;
/// Order of the Markov baseline: the previous three 16th-note steps.
pub const MARKOV_ORDER: usize = 3;

/// Counts of each next token after one context, and their total.
type Counts = (Vec<u32>, u32);

/// Context symbol before the first token of a stream.
const START: u32 = u32::MAX;

/// An n-gram model over tokens `0..vocab`.
#[derive(Clone, Debug)]
pub struct Ngram {
    /// Previous tokens in a context (0: unigram).
    pub order: usize,
    /// Whether contexts start with the step's condition token.
    pub conditioned: bool,
    vocab: usize,
    /// Level `i` holds contexts of `i` symbols (condition first, then the newest previous
    /// token first): counts per next token and their total.
    levels: Vec<HashMap<Vec<u32>, Counts>>,
}

/// One sequence of tokens to fit or score, with an optional condition token per step.
#[derive(Clone, Copy, Debug)]
pub struct Stream<'a> {
    /// The tokens.
    pub tokens: &'a [usize],
    /// A condition token per step (same length), if any.
    pub condition: Option<&'a [usize]>,
}

impl<'a> Stream<'a> {
    /// A stream without condition.
    pub fn plain(tokens: &'a [usize]) -> Self {
        Self {
            tokens,
            condition: None,
        }
    }
}

impl Ngram {
    /// Fits a model of `order` previous tokens on the streams.
    pub fn fit(order: usize, conditioned: bool, vocab: usize, streams: &[Stream<'_>]) -> Self {
        let depth = order + usize::from(conditioned);
        let mut model = Self {
            order,
            conditioned,
            vocab: vocab.max(1),
            levels: vec![HashMap::new(); depth + 1],
        };
        for stream in streams {
            for step in 0..stream.tokens.len() {
                let next = stream.tokens[step].min(model.vocab - 1);
                let full = model.context(stream, step, |i| stream.tokens[i] as u32);
                for len in 0..=depth {
                    let entry = model.levels[len]
                        .entry(full[..len].to_vec())
                        .or_insert_with(|| (vec![0; vocab.max(1)], 0));
                    entry.0[next] += 1;
                    entry.1 += 1;
                }
            }
        }
        model
    }

    /// The unigram baseline.
    pub fn unigram(vocab: usize, streams: &[Stream<'_>]) -> Self {
        Self::fit(0, false, vocab, streams)
    }

    /// The Markov baseline (order [`MARKOV_ORDER`], conditioned when the streams are).
    pub fn markov(vocab: usize, streams: &[Stream<'_>]) -> Self {
        let conditioned = streams.iter().any(|s| s.condition.is_some());
        Self::fit(MARKOV_ORDER, conditioned, vocab, streams)
    }

    /// Vocabulary size.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// The full context of `step`: the condition (if any), then previous tokens, newest first.
    fn context(&self, stream: &Stream<'_>, step: usize, token: impl Fn(usize) -> u32) -> Vec<u32> {
        let mut context = Vec::with_capacity(self.order + 1);
        if self.conditioned {
            let c = stream.condition.and_then(|c| c.get(step)).copied();
            context.push(c.map_or(START, |c| c as u32));
        }
        for back in 1..=self.order {
            context.push(step.checked_sub(back).map_or(START, &token));
        }
        context
    }

    /// The distribution of the next token after a full context (see [`Ngram::context`]).
    fn distribution_after(&self, context: &[u32]) -> Vec<f64> {
        let k = ADD_K;
        let v = self.vocab as f64;
        let mut probs = match self.levels[0].get(&Vec::new()) {
            Some((counts, total)) => counts
                .iter()
                .map(|&c| (f64::from(c) + k) / (f64::from(*total) + k * v))
                .collect(),
            None => vec![1.0 / v; self.vocab],
        };
        for len in 1..self.levels.len() {
            let Some((counts, total)) = self.levels[len].get(&context[..len]) else {
                break;
            };
            let strength = k * v;
            let total = f64::from(*total);
            for (p, &c) in probs.iter_mut().zip(counts) {
                *p = (f64::from(c) + strength * *p) / (total + strength);
            }
        }
        probs
    }

    /// The distribution of each step's token of `stream` given the true previous tokens.
    pub fn predict(&self, stream: &Stream<'_>) -> Vec<Vec<f64>> {
        (0..stream.tokens.len())
            .map(|step| {
                let context = self.context(stream, step, |i| stream.tokens[i] as u32);
                self.distribution_after(&context)
            })
            .collect()
    }

    /// Samples `steps` tokens (with the conditions of `condition`, if given).
    pub fn sample(
        &self,
        steps: usize,
        condition: Option<&[usize]>,
        rng: &mut impl Rng,
    ) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::with_capacity(steps);
        for step in 0..steps {
            let stream = Stream {
                tokens: &out,
                condition,
            };
            let context = self.context(&stream, step, |i| out[i] as u32);
            let probs = self.distribution_after(&context);
            out.push(draw(&probs, rng));
        }
        out
    }
}

/// The baselines' onset accuracy on held-out streams, for the training dashboard's validation
/// plot: `[("unigram onset accuracy", u), ("markov onset accuracy", m)]`, both fitted on
/// `train`. With `skip_first`, each stream's first token is context only (a start token).
pub fn baseline_levels(
    vocab: usize,
    train: &[Stream<'_>],
    held: &[Stream<'_>],
    skip_first: bool,
) -> Vec<(String, f64)> {
    let score = |model: &Ngram| {
        let mut sum = crate::measures::predictive::PredictiveSum::default();
        for stream in held {
            let skip = usize::from(skip_first);
            for (probs, &t) in model.predict(stream).iter().zip(stream.tokens).skip(skip) {
                sum.add_probs(probs, t);
            }
        }
        sum.finish().onset_accuracy
    };
    vec![
        (
            "unigram onset accuracy".into(),
            score(&Ngram::unigram(vocab, train)),
        ),
        (
            "markov onset accuracy".into(),
            score(&Ngram::markov(vocab, train)),
        ),
    ]
}

/// [`baseline_levels`] for a window dataset: fitted on the training windows, scored on the
/// first `take` validation windows (those a session's `validate` measures).
pub fn window_baselines(
    windows: &[Vec<usize>],
    vocab: usize,
    (train, validation): (&[usize], &[usize]),
    take: usize,
) -> Vec<(String, f64)> {
    let streams = |indices: &[usize]| -> Vec<Stream<'_>> {
        indices
            .iter()
            .map(|&i| Stream::plain(&windows[i]))
            .collect()
    };
    let held: Vec<usize> = validation.iter().copied().take(take).collect();
    baseline_levels(vocab, &streams(train), &streams(&held), false)
}

/// Draws an index from probabilities that sum to about 1.
pub fn draw(probs: &[f64], rng: &mut impl Rng) -> usize {
    let total: f64 = probs.iter().sum();
    let mut pick = rng.random::<f64>() * total;
    for (i, p) in probs.iter().enumerate() {
        pick -= p;
        if pick <= 0.0 {
            return i;
        }
    }
    probs.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn distributions_sum_to_one_and_never_reach_zero() {
        let tokens = [0, 1, 2, 1, 0, 1, 2, 1, 0];
        let model = Ngram::markov(4, &[Stream::plain(&tokens)]);
        for probs in model.predict(&Stream::plain(&[3, 3, 2, 0])) {
            let sum: f64 = probs.iter().sum();
            assert!((sum - 1.0).abs() < 1e-9, "sum {sum}");
            assert!(probs.iter().all(|&p| p > 0.0));
        }
    }

    #[test]
    fn markov_learns_a_pattern_the_unigram_cannot() {
        let tokens: Vec<usize> = (0..300).map(|i| [0, 1, 2][i % 3]).collect();
        let streams = [Stream::plain(&tokens)];
        let (unigram, markov) = (Ngram::unigram(3, &streams), Ngram::markov(3, &streams));
        let nll = |m: &Ngram| {
            let probs = m.predict(&streams[0]);
            probs
                .iter()
                .zip(&tokens)
                .map(|(p, &t)| -p[t].ln())
                .sum::<f64>()
                / tokens.len() as f64
        };
        assert!((nll(&unigram) - 3f64.ln()).abs() < 0.01);
        assert!(nll(&markov) < 0.05, "markov nll {}", nll(&markov));
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let sample = markov.sample(30, None, &mut rng);
        let follows = sample.windows(2).filter(|w| w[1] == (w[0] + 1) % 3).count();
        assert!(follows >= 27, "{sample:?}");
    }

    #[test]
    fn the_condition_leads_the_context() {
        // The token equals the condition: unpredictable without it, certain with it.
        let condition: Vec<usize> = (0..200).map(|i| (i * 7 + i / 3) % 4).collect();
        let streams = [Stream {
            tokens: &condition,
            condition: Some(&condition),
        }];
        let markov = Ngram::markov(4, &streams);
        let probs = markov.predict(&streams[0]);
        let hits = probs
            .iter()
            .zip(&condition)
            .filter(|(p, t)| p[**t] > 0.9)
            .count();
        assert!(hits > 190, "{hits}");
    }
}
