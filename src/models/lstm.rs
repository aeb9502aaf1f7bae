//! The LSTM melody model, after folk-rnn and Briot's lstm.py: a tune is a sequence of 16th-note
//! steps, each one token of {rest, hold, pitch…}; stacked LSTM layers predict the next token
//! (cross-entropy). Generation samples one token at a time at a temperature; a tune can be
//! continued by first feeding its opening bars.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, LstmState};

use super::recurrent::FusedLstm;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::{Sample, Session, accuracy, onset_accuracy, rows, sample_logits, scalar};
use crate::data::encoding::tokens_to_track;
use crate::data::{PitchRange, TuneSequences};
use crate::measures::ngram::{Stream, baseline_levels};
use crate::music::Score;

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "RNN(LSTM²) with a Feedforward read-out: next 16th-note token",
    reference: "Sturm et al., \"Music transcription modelling and composition using deep learning\" (folk-rnn, 2016); Briot, Hadjeres & Pachet (2019), §6.5",
    deviations: &[
        (
            "{rest, hold, pitch} tokens on the 16th-note grid instead of folk-rnn's ABC tokens",
            "the encoding every melody model here shares, so all are measured on the same steps",
        ),
        (
            "2 layers of 256 units (folk-rnn: 3 × 512)",
            "trainable on a 2-core CPU in an interactive session",
        ),
        (
            "random 64-step crops, half of them from the tune's start",
            "whole tunes are long; crops from the start teach how tunes begin",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "lstm",
    title: "LSTM melody (folk-rnn)",
    description: "Predicts the next 16th-note step of a tune; generates new tunes and continues yours.",
    default_corpus: "celtic",
    learning_rate: 2e-3,
    family: super::Family::Predictive,
    card: CARD,
    default_config: || super::ModelConfig::Lstm(LstmMelodyConfig::default()),
    session: build_session,
    load,
};

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    use super::ModelConfig;
    let ModelConfig::Lstm(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let s = LstmSession::new(
        c.clone(),
        args.scores,
        args.batch,
        args.learning_rate,
        args.seed,
        args.device,
    )?;
    let vocabulary = super::Vocabulary::Melody(s.range());
    Ok((Box::new(s), vocabulary))
}

crate::hyperparameters! {
    /// Hyperparameters of the LSTM melody model.
    pub struct LstmMelodyConfig {
        /// Units per LSTM layer (folk-rnn uses 512).
        pub hidden: usize = 256; 1..=2048,
        /// Stacked LSTM layers (2 or 3).
        pub layers: usize = 2; 1..=6,
        /// Size of the learned token embedding.
        pub embedding: usize = 32; 1..=1024,
        /// Steps per training sequence (64 = four bars of 4/4).
        pub sequence: usize = 64; 2..=512,
        /// Steps to generate for a new tune (128 = eight bars).
        pub generate_steps: usize = 128; 1..=4096,
    }
}

/// The network: token embedding, stacked LSTMs, a linear read-out to next-token logits.
#[derive(Module, Debug)]
pub struct LstmMelody {
    embed: Embedding,
    layers: Vec<FusedLstm>,
    output: Linear,
}

/// The start token's index: one past the melody tokens.
pub fn start_token(range: &PitchRange) -> usize {
    range.vocab_size()
}

impl LstmMelody {
    /// Builds the network for melodies over `range`.
    pub fn new(config: &LstmMelodyConfig, range: &PitchRange, device: &Device) -> Self {
        let vocab = range.vocab_size();
        let layers = (0..config.layers.max(1))
            .map(|i| {
                let input = if i == 0 {
                    config.embedding
                } else {
                    config.hidden
                };
                FusedLstm::new(input, config.hidden, device)
            })
            .collect();
        Self {
            embed: EmbeddingConfig::new(vocab + 1, config.embedding).init(device),
            layers,
            output: LinearConfig::new(config.hidden, vocab).init(device),
        }
    }

    /// # Shapes
    /// - tokens: `[batch, steps]`
    /// - returns: `[batch * steps, vocab]` next-token logits and the final state of each layer
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<Vec<LstmState<2>>>,
    ) -> (Tensor<2>, Vec<LstmState<2>>) {
        let [batch, steps] = tokens.dims();
        let mut x = self.embed.forward(tokens); // [batch, steps, embedding]
        let mut states = Vec::with_capacity(self.layers.len());
        let mut previous = state.map(Vec::into_iter);
        for layer in &self.layers {
            let initial = previous.as_mut().and_then(Iterator::next);
            let (y, s) = layer.forward_sequence(x, initial, false); // [batch, steps, hidden]
            x = y;
            states.push(s);
        }
        let hidden = self.layers.last().map_or(0, FusedLstm::hidden_size);
        let stacked = x.reshape([batch * steps, hidden]);
        (self.output.forward(stacked), states)
    }
}

fn token_tensor(rows: &[Vec<usize>], device: &Device) -> Tensor<2, Int> {
    let steps = rows.first().map_or(0, Vec::len);
    let data: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.iter().map(|&t| t as i64))
        .collect();
    Tensor::from_data(TensorData::new(data, [rows.len(), steps]), device)
}

/// Generates `steps` tokens after feeding the start token and then `prime` (the opening of a
/// tune to continue). Returns prime followed by the continuation.
pub fn generate(
    model: &LstmMelody,
    range: &PitchRange,
    prime: &[usize],
    steps: usize,
    temperature: f64,
    seed: u64,
    device: &Device,
) -> Vec<usize> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut input: Vec<usize> = vec![start_token(range)];
    input.extend(prime.iter().map(|&t| t.min(range.vocab_size() - 1)));
    let (logits, mut state) = model.forward(token_tensor(&[input], device), None);
    let mut next = sample_logits(
        rows(logits).last().map_or(&[][..], Vec::as_slice),
        temperature,
        &mut rng,
    );
    let mut out = prime.to_vec();
    for _ in 0..steps {
        out.push(next);
        let (logits, s) = model.forward(token_tensor(&[vec![next]], device), Some(state));
        state = s;
        next = sample_logits(&rows(logits)[0], temperature, &mut rng);
    }
    out
}

/// Decodes tokens into a one-track score.
pub fn tokens_to_score(name: &str, tokens: &[usize], range: &PitchRange) -> Score {
    let mut score = Score::new(name, 480);
    score
        .tracks
        .push(tokens_to_track("Melody", tokens, range, 480));
    score
}

/// A trained LSTM, ready to write and continue tunes and to be measured.
pub struct TrainedLstm {
    model: LstmMelody,
    config: LstmMelodyConfig,
    range: PitchRange,
}

impl TrainedLstm {
    /// A trained network of `config` over `range` (the RL-Tuner's Q-network is one).
    pub fn from_parts(model: LstmMelody, config: LstmMelodyConfig, range: PitchRange) -> Self {
        Self {
            model,
            config,
            range,
        }
    }
}

/// The registry's `load`.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (super::ModelConfig::Lstm(c), super::Vocabulary::Melody(range)) = (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(TrainedLstm {
        model: super::load_module(LstmMelody::new(c, &range, device), path)
            .map_err(|e| format!("{e}{}", super::recurrent::OLD_LAYOUT))?,
        config: c.clone(),
        range,
    }))
}

impl super::Trained for TrainedLstm {
    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        let prime = match &options.melody {
            Some(melody) => {
                let grid = melody.to_grid(4);
                let track =
                    crate::data::encoding::pick_track(&grid.tracks, options.track.as_deref())
                        .ok_or_else(|| format!("{}: no notes to continue", melody.name))?;
                let bars = options.prime_bars.max(1);
                crate::data::encoding::voice_tokens(&track.notes, 0, bars * 16, &self.range)
            }
            None => Vec::new(),
        };
        let tokens = generate(
            &self.model,
            &self.range,
            &prime,
            self.config.generate_steps,
            options.temperature,
            options.seed,
            device,
        );
        Ok(tokens_to_score("lstm", &tokens, &self.range))
    }

    /// Next-token predictions over whole held-out tunes; tunes written from the start token.
    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        use crate::measures::{MAX_TUNE_STEPS, melody_notes, melody_tokens, tokens_excerpt};
        let (n, seed, range) = (options.samples, options.seed, &self.range);
        let held: Vec<Vec<usize>> = data
            .held
            .iter()
            .map(|s| {
                let mut t = melody_tokens(&melody_notes(s), range);
                t.truncate(MAX_TUNE_STEPS);
                t
            })
            .filter(|t| !t.is_empty())
            .collect();
        progress(0.1, "scoring held-out tunes");
        let predictive = held_out_predictive(&self.model, range, &held, device);
        let steps = self.config.generate_steps.clamp(16, 512);
        let samples = (0..n)
            .map(|i| {
                if i % 10 == 0 {
                    progress(0.3 + 0.4 * i as f32 / n as f32, "sampling");
                }
                let tokens = generate(&self.model, range, &[], steps, 1.0, seed + i as u64, device);
                tokens_excerpt(&tokens, range)
            })
            .collect();
        // The pins the Anticipation-RNN is measured on, met by chance: the LSTM cannot read
        // them, so each held-out tune gets one free sample (from the start token, the tune's
        // seed) judged against every constraint set.
        progress(0.6, "judging samples against pins");
        let tunes = crate::data::TuneSequences::from_scores(data.held, Some(*range));
        let pinned: Vec<crate::measures::constraints::Tune> =
            tunes.tunes.into_iter().zip(tunes.positions).collect();
        let mut written: Vec<Vec<usize>> = Vec::new();
        let satisfaction = crate::measures::constraints::measure(&pinned, seed, |pins, _, _| {
            while written.len() < pins.len() {
                let i = written.len() as u64;
                let steps = crate::measures::constraints::CUT;
                written.push(generate(
                    &self.model,
                    range,
                    &[],
                    steps,
                    1.0,
                    seed + i,
                    device,
                ));
            }
            written[..pins.len()].to_vec()
        });
        let mut evaluated = crate::measures::melody_case(
            data,
            *range,
            held,
            Some(predictive),
            samples,
            steps,
            options,
            progress,
        );
        evaluated.model.constraints = Some(crate::measures::constraints::ConstraintScores {
            model: satisfaction,
            ..Default::default()
        });
        Ok(evaluated)
    }
}

/// The LSTM's next-token predictions over whole held-out tunes (from the start token on).
fn held_out_predictive(
    model: &LstmMelody,
    range: &PitchRange,
    tunes: &[Vec<usize>],
    device: &Device,
) -> crate::measures::predictive::Predictive {
    let mut order: Vec<usize> = (0..tunes.len()).collect();
    order.sort_by_key(|&i| tunes[i].len());
    let mut sum = crate::measures::predictive::PredictiveSum::default();
    for chunk in order.chunks(16) {
        let len = chunk.iter().map(|&i| tunes[i].len()).max().unwrap_or(0);
        let data: Vec<i64> = chunk
            .iter()
            .flat_map(|&i| {
                let tune = &tunes[i];
                std::iter::once(start_token(range))
                    .chain(tune[..tune.len() - 1].iter().copied())
                    .chain(std::iter::repeat(crate::data::REST))
                    .take(len)
                    .map(|t| t as i64)
            })
            .collect();
        let input = Tensor::<2, Int>::from_data(TensorData::new(data, [chunk.len(), len]), device);
        let (logits, _) = model.forward(input, None);
        let logits = rows(logits);
        for (b, &i) in chunk.iter().enumerate() {
            for (s, &target) in tunes[i].iter().enumerate() {
                sum.add_logits(&logits[b * len + s], target);
            }
        }
    }
    sum.finish()
}

/// The LSTM under training.
pub struct LstmSession {
    model: LstmMelody,
    optimizer: burn::optim::ModuleOptimizer,
    config: LstmMelodyConfig,
    data: TuneSequences,
    train: Vec<usize>,
    validation: Vec<usize>,
    batch_size: usize,
    steps_per_epoch: usize,
    rng: rand::rngs::StdRng,
    learning_rate: f64,
    device: Device,
    /// The baselines' onset accuracy on the validation crops (computed at the first validation).
    baselines: Vec<(String, f64)>,
}

impl LstmSession {
    /// Encodes the tunes and builds a fresh network.
    pub fn new(
        config: LstmMelodyConfig,
        scores: &[Score],
        batch_size: usize,
        learning_rate: f64,
        seed: u64,
        device: &Device,
    ) -> Result<Self, String> {
        let data = TuneSequences::from_scores(scores, None);
        let (train, mut validation): (Vec<usize>, Vec<usize>) = data.split();
        let train: Vec<usize> = train
            .into_iter()
            .filter(|&i| data.tunes[i].len() > 4)
            .collect();
        if train.is_empty() {
            return Err("no tunes with notes in this corpus".into());
        }
        if validation.is_empty() {
            validation = train.iter().copied().take(4).collect();
        }
        let total_steps: usize = train.iter().map(|&i| data.tunes[i].len()).sum();
        let steps_per_epoch = (total_steps / (config.sequence.max(1) * batch_size.max(1))).max(1);
        Ok(Self {
            model: LstmMelody::new(&config, &data.range, device),
            optimizer: super::optim::adam(0.9),
            config,
            data,
            train,
            validation,
            batch_size: batch_size.max(1),
            steps_per_epoch,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            learning_rate,
            device: device.clone(),
            baselines: Vec::new(),
        })
    }

    /// The melody range (saved in the checkpoint's config).
    pub fn range(&self) -> PitchRange {
        self.data.range
    }

    /// A random crop of `sequence + 1` tokens: half the time the opening of a tune after the
    /// start token (so the model learns how tunes begin), otherwise anywhere in it.
    fn crop(&self, tune: usize, rng: &mut impl Rng) -> Vec<usize> {
        let tokens = &self.data.tunes[tune];
        let len = self.config.sequence + 1;
        let mut crop: Vec<usize> = if rng.random_bool(0.5) || tokens.len() < len {
            std::iter::once(start_token(&self.data.range))
                .chain(tokens.iter().copied())
                .take(len)
                .collect()
        } else {
            let from = rng.random_range(0..=tokens.len() - len);
            tokens[from..from + len].to_vec()
        };
        crop.resize(len, crate::data::REST);
        crop
    }

    fn loss(&self, model: &LstmMelody, crops: &[Vec<usize>]) -> (Tensor<1>, Tensor<2>, Vec<usize>) {
        let inputs: Vec<Vec<usize>> = crops.iter().map(|c| c[..c.len() - 1].to_vec()).collect();
        let next: Vec<usize> = crops.iter().flat_map(|c| c[1..].iter().copied()).collect();
        let (logits, _) = model.forward(token_tensor(&inputs, &self.device), None);
        let loss = super::cross_entropy_op::cross_entropy(logits.clone(), &next);
        (loss, logits, next)
    }
}

impl Session for LstmSession {
    fn loss_names(&self) -> Vec<String> {
        vec!["next-step loss".into()]
    }

    fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.rng = rand::rngs::StdRng::seed_from_u64(rng.random());
    }

    fn train_step(&mut self, _step: usize) -> super::StepLosses {
        let mut rng = self.rng.clone();
        let crops: Vec<Vec<usize>> = (0..self.batch_size)
            .map(|_| {
                let tune = self.train[rng.random_range(0..self.train.len())];
                self.crop(tune, &mut rng)
            })
            .collect();
        self.rng = rng;
        let (loss, _, _) = self.loss(&self.model, &crops);
        super::optimize(
            &mut self.optimizer,
            self.learning_rate,
            &mut self.model,
            loss.backward(),
        );
        super::StepLosses::new([loss])
    }

    fn validate(&mut self) -> Vec<(String, f64)> {
        let model = self.model.valid();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let crops: Vec<Vec<usize>> = self
            .validation
            .iter()
            .take(64)
            .map(|&t| self.crop(t, &mut rng))
            .collect();
        if self.baselines.is_empty() {
            // Training tunes after the start token, as the crops that open a tune see them.
            let start = start_token(&self.data.range);
            let tunes: Vec<Vec<usize>> = self
                .train
                .iter()
                .map(|&i| {
                    std::iter::once(start)
                        .chain(self.data.tunes[i].iter().copied())
                        .collect()
                })
                .collect();
            let train: Vec<Stream<'_>> = tunes.iter().map(|t| Stream::plain(t)).collect();
            let held: Vec<Stream<'_>> = crops.iter().map(|c| Stream::plain(c)).collect();
            self.baselines = baseline_levels(start + 1, &train, &held, true);
        }
        let (loss, logits, next) = self.loss(&model, &crops);
        let mut out = vec![
            ("validation loss".into(), scalar(loss)),
            ("next-step accuracy".into(), accuracy(logits.clone(), &next)),
            ("onset accuracy".into(), onset_accuracy(logits, &next)),
        ];
        out.extend(self.baselines.iter().cloned());
        out
    }

    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let model = self.model.valid();
        let range = self.data.range;
        let steps = self.config.generate_steps.min(256);
        let tokens = generate(&model, &range, &[], steps, 1.0, seed, &self.device);
        vec![Sample {
            label: "new tune (temperature 1.0)".into(),
            score: tokens_to_score("lstm sample", &tokens, &range),
        }]
    }

    fn flops_per_example(&self) -> Option<f64> {
        // Every weight is applied once per step of the sequence.
        let steps = self.config.sequence as f64;
        let layers = self.layers();
        Some(super::card::matmul_flops(&layers, |_| steps) * super::card::TRAINING_PASSES)
    }

    fn layers(&self) -> Vec<super::card::LayerShape> {
        super::card::layers("", &self.model)
    }

    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        super::save_with_optimizer(&self.model, &self.optimizer, path)
    }

    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.model = super::load_with_optimizer(self.model.clone(), &mut self.optimizer, path)
            .map_err(|e| format!("{e}{}", super::recurrent::OLD_LAYOUT))?;
        Ok(())
    }
}
