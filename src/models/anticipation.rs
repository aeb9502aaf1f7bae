//! Anticipation-RNN (Hadjeres & Nielsen 2017) = Conditioning(RNN, RNN): a melody model that
//! writes around notes pinned at chosen steps. A constraint RNN reads, backwards in time, the
//! sequence of constraints — at each step a pinned token or "no constraint" — joined with the
//! step's position in its bar; its output at step t summarises every pin from t to the end. A
//! token RNN reads the melody left to right, each step's input the previous token's embedding
//! joined with the constraint RNN's output for that step, and predicts the next token.
//!
//! Training pins each step of a crop with probability p, p drawn per batch from U(0, 0.5), so
//! the model learns to anticipate pins of any density; the pins are the crop's own tokens, so
//! the loss is the usual next-token cross-entropy. Sampling runs left to right without forcing
//! the pins (the model must *learn* to reach them); a hard clamp forces pinned steps.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, LstmState};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::recurrent::FusedLstm;
use super::{Sample, Session, onset_accuracy, rows, sample_logits, scalar};
use crate::data::encoding::{METRIC_POSITIONS, tokens_to_track};
use crate::data::{PitchRange, TuneSequences};
use crate::measures::constraints::{self, AnticipationSum, ConstraintScores, Pins};
use crate::measures::ngram::{Stream, baseline_levels};
use crate::music::Score;

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "Conditioning(RNN, RNN): a backward constraint LSTM conditions a forward token LSTM",
    reference: "Hadjeres & Nielsen, \"Interactive music generation with positional constraints using Anticipation-RNNs\" (2017); code Ghadjeres/Anticipation-RNN",
    deviations: &[
        (
            "{rest, hold, pitch} tokens and 64-step crops (the authors: windows of 20 beats with start and end symbols)",
            "the encoding every melody model here shares, so it is measured beside the LSTM and the baselines",
        ),
        (
            "no dropout, a one-layer linear read-out, Adam at 2e-3 (the authors: dropout 0.2, Linear → ReLU read-out, 1e-4)",
            "the LSTM melody model's settings, which train in minutes on a CPU",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "anticipation-rnn",
    title: "Anticipation-RNN (Hadjeres)",
    description: "Pin notes anywhere on the roll; the model writes a melody that leads to them.",
    default_corpus: "celtic",
    learning_rate: 2e-3,
    family: super::Family::Predictive,
    card: CARD,
    default_config: || super::ModelConfig::AnticipationRnn(AnticipationConfig::default()),
    session: build_session,
    load,
};

crate::hyperparameters! {
    /// Hyperparameters of the Anticipation-RNN (sizes: the authors').
    pub struct AnticipationConfig {
        /// Units per LSTM layer, in both RNNs (the authors: 256).
        pub hidden: usize = 256; 1..=2048,
        /// Stacked LSTM layers in each RNN (the authors: 2).
        pub layers: usize = 2; 1..=4,
        /// Size of the token embeddings (the authors: 20).
        pub embedding: usize = 20; 1..=512,
        /// Size of the bar-position embedding (the authors: 2).
        pub position_embedding: usize = 2; 1..=64,
        /// Steps per training crop (64 = four bars of 4/4).
        pub sequence: usize = 64; 4..=512,
        /// Training pins each step with probability p, p drawn per batch from U(0, this).
        pub max_pin_rate: f64 = 0.5; 0.0..=1.0,
        /// 1 = each crop is moved by a random interval that keeps it inside the range (augmentation).
        pub transpose: usize = 1; 0..=1,
        /// Steps written by a plain `generate` (64 = four bars).
        pub generate_steps: usize = 64; 1..=4096,
    }
}

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    let super::ModelConfig::AnticipationRnn(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let session = AnticipationSession::new(c.clone(), args)?;
    let vocabulary = super::Vocabulary::Melody(session.data.range);
    Ok((Box::new(session), vocabulary))
}

/// The network.
#[derive(Module, Debug)]
pub struct AnticipationRnn {
    tokens: Embedding,
    pins: Embedding,
    positions: Embedding,
    constraint_layers: Vec<FusedLstm>,
    token_layers: Vec<FusedLstm>,
    output: Linear,
}

/// The start token (before a melody's first step): one past the melody tokens.
pub fn start_token(range: &PitchRange) -> usize {
    range.vocab_size()
}

/// The "no constraint" symbol of the constraint RNN: one past the melody tokens.
pub fn free_token(range: &PitchRange) -> usize {
    range.vocab_size()
}

fn int_tensor(rows: &[Vec<usize>], device: &Device) -> Tensor<2, Int> {
    let steps = rows.first().map_or(0, Vec::len);
    let data: Vec<i64> = rows.iter().flatten().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(data, [rows.len(), steps]), device)
}

impl AnticipationRnn {
    /// Builds the network for melodies over `range`.
    pub fn new(config: &AnticipationConfig, range: &PitchRange, device: &Device) -> Self {
        let vocab = range.vocab_size();
        let hidden = config.hidden.max(1);
        let stack = |first: usize| -> Vec<FusedLstm> {
            (0..config.layers.max(1))
                .map(|i| FusedLstm::new(if i == 0 { first } else { hidden }, hidden, device))
                .collect()
        };
        Self {
            tokens: EmbeddingConfig::new(vocab + 1, config.embedding).init(device),
            pins: EmbeddingConfig::new(vocab + 1, config.embedding).init(device),
            positions: EmbeddingConfig::new(METRIC_POSITIONS, config.position_embedding)
                .init(device),
            constraint_layers: stack(config.embedding + config.position_embedding),
            token_layers: stack(config.embedding + hidden),
            output: LinearConfig::new(hidden, vocab).init(device),
        }
    }

    /// The constraint RNN, backwards in time: pins (tokens or [`free_token`]) and bar positions
    /// `[batch, steps]` → `[batch, steps, hidden]`, step t summarising the pins from t on.
    pub fn anticipate(&self, pins: Tensor<2, Int>, positions: Tensor<2, Int>) -> Tensor<3> {
        let mut x = Tensor::cat(
            vec![self.pins.forward(pins), self.positions.forward(positions)],
            2,
        );
        for layer in &self.constraint_layers {
            x = layer.forward_sequence(x, None, true).0;
        }
        x
    }

    /// The token RNN from `state`: previous tokens `[batch, steps]` and the constraint RNN's
    /// outputs for the same steps → next-token logits `[batch * steps, vocab]` and the state.
    pub fn write(
        &self,
        previous: Tensor<2, Int>,
        anticipation: Tensor<3>,
        state: Option<Vec<LstmState<2>>>,
    ) -> (Tensor<2>, Vec<LstmState<2>>) {
        let [batch, steps] = previous.dims();
        let mut x = Tensor::cat(vec![self.tokens.forward(previous), anticipation], 2);
        let mut states = Vec::with_capacity(self.token_layers.len());
        let mut initial = state.map(Vec::into_iter);
        for layer in &self.token_layers {
            let (y, s) =
                layer.forward_sequence(x, initial.as_mut().and_then(Iterator::next), false);
            x = y;
            states.push(s);
        }
        let hidden = self.token_layers.last().map_or(0, FusedLstm::hidden_size);
        (
            self.output.forward(x.reshape([batch * steps, hidden])),
            states,
        )
    }

    /// Next-token logits of whole melodies fed in (teacher forcing): `[batch * steps, vocab]`.
    pub fn forward(
        &self,
        tokens: &[Vec<usize>],
        pins: &[Pins],
        positions: &[Vec<usize>],
        range: &PitchRange,
        device: &Device,
    ) -> Tensor<2> {
        let previous: Vec<Vec<usize>> = tokens
            .iter()
            .map(|t| {
                std::iter::once(start_token(range))
                    .chain(t[..t.len().saturating_sub(1)].iter().copied())
                    .collect()
            })
            .collect();
        let anticipation = self.anticipate(
            int_tensor(&pin_tokens(pins, range), device),
            int_tensor(positions, device),
        );
        self.write(int_tensor(&previous, device), anticipation, None)
            .0
    }
}

/// Pins as the constraint RNN's input tokens.
fn pin_tokens(pins: &[Pins], range: &PitchRange) -> Vec<Vec<usize>> {
    pins.iter()
        .map(|row| row.iter().map(|p| p.unwrap_or(free_token(range))).collect())
        .collect()
}

/// Writes one melody per row of `pins` (all rows as long; `positions` alike), left to right at
/// `temperature`; with `clamp`, pinned steps are forced. Rows are written together.
pub fn fill(
    model: &AnticipationRnn,
    range: &PitchRange,
    (pins, positions): (&[Pins], &[Vec<usize>]),
    (temperature, clamp): (f64, bool),
    seed: u64,
    device: &Device,
) -> Vec<Vec<usize>> {
    let (batch, steps) = (pins.len(), pins.first().map_or(0, Vec::len));
    if batch == 0 || steps == 0 {
        return vec![Vec::new(); batch];
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let anticipation = model.anticipate(
        int_tensor(&pin_tokens(pins, range), device),
        int_tensor(positions, device),
    );
    let hidden = anticipation.dims()[2];
    let mut written: Vec<Vec<usize>> = vec![Vec::with_capacity(steps); batch];
    let mut previous = vec![vec![start_token(range)]; batch];
    let mut state = None;
    for t in 0..steps {
        let here = anticipation.clone().slice([0..batch, t..t + 1, 0..hidden]);
        let (logits, s) = model.write(int_tensor(&previous, device), here, state);
        state = Some(s);
        let rows = rows(logits);
        for (((row, pins), written), previous) in
            rows.iter().zip(pins).zip(&mut written).zip(&mut previous)
        {
            let token = match pins.get(t).copied().flatten() {
                Some(pin) if clamp => pin,
                _ => sample_logits(row, temperature, &mut rng),
            };
            written.push(token);
            *previous = vec![token];
        }
    }
    written
}

/// The bar positions of `steps` steps in bars of `per_bar` steps.
pub fn regular_positions(steps: usize, per_bar: usize) -> Vec<usize> {
    (0..steps)
        .map(|s| (s % per_bar.max(1)).min(METRIC_POSITIONS - 1))
        .collect()
}

/// Reads pins written as "step:pitch" pairs — "0:D5,16:A4,32:rest,63:D4" (steps in 16th notes
/// from the start, pitches by name with C4 = 60, MIDI numbers, `rest` or `hold`) — for a melody
/// of `steps` steps over `range`.
pub fn parse_pins(text: &str, steps: usize, range: &PitchRange) -> Result<Pins, String> {
    let mut pins = vec![None; steps];
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (step, what) = pair
            .split_once(':')
            .ok_or_else(|| format!("'{pair}': write a constraint as step:pitch, like 16:A4"))?;
        let step: usize = step
            .trim()
            .parse()
            .map_err(|_| format!("'{pair}': '{step}' is not a step number"))?;
        if step >= steps {
            return Err(format!(
                "'{pair}': step {step} lies outside the melody (steps 0 to {})",
                steps - 1
            ));
        }
        let token = match what.trim().to_ascii_lowercase().as_str() {
            "rest" => crate::data::REST,
            "hold" => crate::data::HOLD,
            _ => {
                let pitch = crate::music::parse_pitch(what).ok_or_else(|| {
                    format!("'{pair}': '{what}' is not a pitch (write D5, F#4, Bb3, 62 or rest)")
                })?;
                if pitch < range.low || pitch > range.high {
                    return Err(format!(
                        "'{pair}': {} lies outside the model's range {} to {}",
                        crate::music::pitch_name(pitch),
                        crate::music::pitch_name(range.low),
                        crate::music::pitch_name(range.high)
                    ));
                }
                range.token(pitch)
            }
        };
        pins[step] = Some(token);
    }
    Ok(pins)
}

/// Decodes tokens into a one-track score.
pub fn tokens_to_score(name: &str, tokens: &[usize], range: &PitchRange) -> Score {
    let mut score = Score::new(name, 480);
    score
        .tracks
        .push(tokens_to_track("Melody", tokens, range, 480));
    score
}

/// The Anticipation-RNN under training.
pub struct AnticipationSession {
    model: AnticipationRnn,
    optimizer: burn::optim::ModuleOptimizer,
    config: AnticipationConfig,
    data: TuneSequences,
    train: Vec<usize>,
    validation: Vec<usize>,
    batch_size: usize,
    steps_per_epoch: usize,
    rng: rand::rngs::StdRng,
    learning_rate: f64,
    device: Device,
    /// The baselines' onset accuracy on the validation crops (computed once).
    baselines: Vec<(String, f64)>,
}

/// A training crop: tokens, their bar positions, and the pins shown.
struct Crop {
    tokens: Vec<usize>,
    positions: Vec<usize>,
    pins: Pins,
}

impl AnticipationSession {
    /// Encodes the tunes and builds a fresh network.
    pub fn new(config: AnticipationConfig, args: &super::SessionArgs<'_>) -> Result<Self, String> {
        let data = TuneSequences::from_scores(args.scores, None);
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
        let batch_size = args.batch.max(1);
        let total: usize = train.iter().map(|&i| data.tunes[i].len()).sum();
        let steps_per_epoch = (total / (config.sequence.max(1) * batch_size)).max(1);
        Ok(Self {
            model: AnticipationRnn::new(&config, &data.range, args.device),
            optimizer: super::optim::adam(0.9),
            config,
            data,
            train,
            validation,
            batch_size,
            steps_per_epoch,
            rng: rand::rngs::StdRng::seed_from_u64(args.seed),
            learning_rate: args.learning_rate,
            device: args.device.clone(),
            baselines: Vec::new(),
        })
    }

    /// A crop of a tune (half the time its opening), moved by a random interval when
    /// augmenting, with each step pinned with probability `p`.
    fn crop(&self, tune: usize, p: f64, transpose: bool, rng: &mut impl Rng) -> Crop {
        let tokens = &self.data.tunes[tune];
        let len = self.config.sequence.max(4);
        let from = if rng.random_bool(0.5) || tokens.len() <= len {
            0
        } else {
            rng.random_range(0..=tokens.len() - len)
        };
        let end = (from + len).min(tokens.len());
        let mut crop: Vec<usize> = tokens[from..end].to_vec();
        let mut positions: Vec<usize> = self.data.positions[tune][from..end].to_vec();
        crop.resize(len, crate::data::REST);
        let last = positions.last().copied().unwrap_or(0);
        positions.resize(len, last);
        if transpose {
            shift_within_range(&mut crop, &self.data.range, rng);
        }
        let pins = constraints::random_pins(&crop, p, rng);
        Crop {
            tokens: crop,
            positions,
            pins,
        }
    }

    fn loss(&self, model: &AnticipationRnn, crops: &[Crop]) -> (Tensor<1>, Tensor<2>, Vec<usize>) {
        let tokens: Vec<Vec<usize>> = crops.iter().map(|c| c.tokens.clone()).collect();
        let pins: Vec<Pins> = crops.iter().map(|c| c.pins.clone()).collect();
        let positions: Vec<Vec<usize>> = crops.iter().map(|c| c.positions.clone()).collect();
        let logits = model.forward(&tokens, &pins, &positions, &self.data.range, &self.device);
        let next: Vec<usize> = tokens.concat();
        let targets = Tensor::<1, Int>::from_data(
            TensorData::new(
                next.iter().map(|&t| t as i64).collect::<Vec<_>>(),
                [next.len()],
            ),
            &self.device,
        );
        let loss = CrossEntropyLossConfig::new()
            .init(&self.device)
            .forward(logits.clone(), targets);
        (loss, logits, next)
    }
}

/// Moves the pitch tokens of a melody by one interval drawn from those (up to a tritone either
/// way) that keep every pitch inside `range`.
fn shift_within_range(tokens: &mut [usize], range: &PitchRange, rng: &mut impl Rng) {
    let pitches: Vec<u8> = tokens.iter().filter_map(|&t| range.pitch(t)).collect();
    let (Some(&low), Some(&high)) = (pitches.iter().min(), pitches.iter().max()) else {
        return;
    };
    let down = i32::from(low - range.low).min(6);
    let up = i32::from(range.high - high).min(6);
    let shift = rng.random_range(-down..=up);
    for t in tokens.iter_mut() {
        if let Some(p) = range.pitch(*t) {
            *t = range.token((i32::from(p) + shift) as u8);
        }
    }
}

impl Session for AnticipationSession {
    fn loss_names(&self) -> Vec<String> {
        vec!["next-step loss (random pins shown)".into()]
    }

    fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.rng = rand::rngs::StdRng::seed_from_u64(rng.random());
    }

    fn train_step(&mut self, _step: usize) -> super::StepLosses {
        let mut rng = self.rng.clone();
        let p = rng.random_range(0.0..=self.config.max_pin_rate.clamp(0.0, 1.0));
        let crops: Vec<Crop> = (0..self.batch_size)
            .map(|_| {
                let tune = self.train[rng.random_range(0..self.train.len())];
                self.crop(tune, p, self.config.transpose > 0, &mut rng)
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
        let device = self.device.clone().inner();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let crops: Vec<Crop> = self
            .validation
            .iter()
            .take(64)
            .map(|&t| {
                let p = rng.random_range(0.0..0.5);
                self.crop(t, p, false, &mut rng)
            })
            .collect();
        if self.baselines.is_empty() {
            let train: Vec<Stream<'_>> = self
                .train
                .iter()
                .map(|&i| Stream::plain(&self.data.tunes[i]))
                .collect();
            let held: Vec<Stream<'_>> = crops.iter().map(|c| Stream::plain(&c.tokens)).collect();
            self.baselines = baseline_levels(self.data.range.vocab_size(), &train, &held, false);
        }
        let (loss, logits, next) = self.loss(&model, &crops);
        let blind: Vec<Crop> = crops
            .iter()
            .map(|c| Crop {
                tokens: c.tokens.clone(),
                positions: c.positions.clone(),
                pins: vec![None; c.tokens.len()],
            })
            .collect();
        let (_, blind_logits, _) = self.loss(&model, &blind);
        // Pins met when sampling freely, on 16 of the crops.
        let tokens: Vec<Pins> = crops.iter().take(16).map(|c| c.pins.clone()).collect();
        let positions: Vec<Vec<usize>> =
            crops.iter().take(16).map(|c| c.positions.clone()).collect();
        let written = fill(
            &model,
            &self.data.range,
            (&tokens, &positions),
            (1.0, false),
            11,
            &device,
        );
        let hidden = vec![vec![None; positions[0].len()]; tokens.len()];
        let blind = fill(
            &model,
            &self.data.range,
            (&hidden, &positions),
            (1.0, false),
            11,
            &device,
        );
        let rate = |written: &[Vec<usize>]| {
            let (met, all) = written
                .iter()
                .zip(&tokens)
                .map(|(w, p)| constraints::met(w, p))
                .fold((0, 0), |(a, b), (m, n)| (a + m, b + n));
            met as f64 / all.max(1) as f64
        };
        let mut out = vec![
            ("validation loss".into(), scalar(loss)),
            (
                "onset accuracy, random pins shown".into(),
                onset_accuracy(logits, &next),
            ),
            (
                "onset accuracy, no pins".into(),
                onset_accuracy(blind_logits, &next),
            ),
            ("pins met, sampling".into(), rate(&written)),
            ("pins met, pins hidden".into(), rate(&blind)),
        ];
        out.extend(self.baselines.iter().cloned());
        out
    }

    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let range = self.data.range;
        let steps = self.config.generate_steps.clamp(16, 256);
        let positions = regular_positions(steps, 16);
        // A tune pinned to start and end on its first validation tune's opening pitch.
        let first = self
            .validation
            .first()
            .and_then(|&t| {
                self.data.tunes[t]
                    .iter()
                    .find(|&&x| range.pitch(x).is_some())
            })
            .copied()
            .unwrap_or(crate::data::REST);
        let mut pins = vec![None; steps];
        pins[0] = Some(first);
        pins[steps - 16] = Some(first);
        let free = fill(
            &model,
            &range,
            (&[vec![None; steps]], std::slice::from_ref(&positions)),
            (1.0, false),
            seed,
            &device,
        );
        let pinned = fill(
            &model,
            &range,
            (&[pins], std::slice::from_ref(&positions)),
            (1.0, false),
            seed,
            &device,
        );
        vec![
            Sample {
                label: "new tune, no pins".into(),
                score: tokens_to_score("anticipation-rnn sample", &free[0], &range),
            },
            Sample {
                label: "pinned: the first and the last bar's first note".into(),
                score: tokens_to_score("anticipation-rnn pinned", &pinned[0], &range),
            },
        ]
    }

    fn flops_per_example(&self) -> Option<f64> {
        // Every weight of both RNNs and the read-out is applied once per step.
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
        self.model = super::load_with_optimizer(self.model.clone(), &mut self.optimizer, path)?;
        Ok(())
    }
}

/// A trained Anticipation-RNN.
pub struct TrainedAnticipation {
    model: AnticipationRnn,
    config: AnticipationConfig,
    range: PitchRange,
}

/// The registry's `load`.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (super::ModelConfig::AnticipationRnn(c), super::Vocabulary::Melody(range)) =
        (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(TrainedAnticipation {
        model: super::load_module(AnticipationRnn::new(c, &range, device), path)?,
        config: c.clone(),
        range,
    }))
}

impl TrainedAnticipation {
    /// The model's pitch range.
    pub fn range(&self) -> PitchRange {
        self.range
    }
}

/// Steps per bar of a generation request: the meter's (`beats` quarter notes, default 4).
fn steps_per_bar(options: &super::GenerateOptions) -> usize {
    options.beats.unwrap_or(4).clamp(1, 12) * 4
}

impl super::Trained for TrainedAnticipation {
    /// A melody of `bars` bars (default: the run's `generate_steps`) around the pins of
    /// `constraints`, forced with `clamp`.
    fn generate(&self, options: &super::GenerateOptions, device: &Device) -> Result<Score, String> {
        let per_bar = steps_per_bar(options);
        let steps = options
            .bars
            .map_or(self.config.generate_steps, |b| b * per_bar)
            .clamp(1, 4096);
        let pins = match &options.constraints {
            Some(text) => parse_pins(text, steps, &self.range)?,
            None => vec![None; steps],
        };
        let positions = regular_positions(steps, per_bar);
        let written = fill(
            &self.model,
            &self.range,
            (
                std::slice::from_ref(&pins),
                std::slice::from_ref(&positions),
            ),
            (options.temperature, options.clamp),
            options.seed,
            device,
        );
        Ok(tokens_to_score(
            "anticipation-rnn",
            &written[0],
            &self.range,
        ))
    }

    /// Next-token measures on whole held-out tunes without pins (beside the baselines); pins
    /// met on held-out tunes under three constraint sets, beside the same network with the
    /// pins hidden; the anticipation curve; samples against the held-out music.
    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        use crate::measures::{MAX_TUNE_STEPS, melody_notes, melody_tokens, tokens_excerpt};
        let range = &self.range;
        let tunes = TuneSequences::from_scores(data.held, Some(*range));
        let held: Vec<(Vec<usize>, Vec<usize>)> = tunes
            .tunes
            .iter()
            .zip(&tunes.positions)
            .filter(|(t, _)| !t.is_empty())
            .map(|(t, p)| {
                let n = t.len().min(MAX_TUNE_STEPS);
                (t[..n].to_vec(), p[..n].to_vec())
            })
            .collect();
        if held.is_empty() {
            return Err("no held-out tunes with notes".into());
        }
        progress(0.1, "scoring held-out tunes");
        // The tunes fed in with these pins (one row per tune): next-token measures and each
        // step's probabilities.
        let teacher = |pins: &[Pins]| {
            let mut sum = crate::measures::predictive::PredictiveSum::default();
            let mut probabilities = Vec::with_capacity(held.len());
            for ((tokens, positions), pins) in held.iter().zip(pins) {
                let logits = self.model.forward(
                    std::slice::from_ref(tokens),
                    std::slice::from_ref(pins),
                    std::slice::from_ref(positions),
                    range,
                    device,
                );
                probabilities.push(rows(softmax(logits.clone(), 1)));
                for (row, &t) in rows(logits).iter().zip(tokens) {
                    sum.add_logits(row, t);
                }
            }
            (sum.finish(), probabilities)
        };
        let no_pins: Vec<Pins> = held.iter().map(|(t, _)| vec![None; t.len()]).collect();
        let (predictive, hidden) = teacher(&no_pins);
        let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed ^ 0x5eed);
        let random_pins: Vec<Pins> = held
            .iter()
            .map(|(t, p)| constraints::pins_of("random", t, p, &mut rng))
            .collect();
        let (constrained, shown) = teacher(&random_pins);
        let is_pitch = |t: usize| range.pitch(t).is_some();
        let (mut curve, mut blind_curve) = (AnticipationSum::default(), AnticipationSum::default());
        for ((p, blind), pins) in shown.iter().zip(&hidden).zip(&random_pins) {
            curve.add(p, pins, is_pitch);
            blind_curve.add(blind, pins, is_pitch);
        }

        progress(0.3, "writing around pins");
        let writer = |hide: bool, clamp: bool| {
            move |pins: &[Pins], positions: &[Vec<usize>], seed: u64| {
                let hidden: Vec<Pins> = pins.iter().map(|p| vec![None; p.len()]).collect();
                let shown = if hide { &hidden[..] } else { pins };
                fill(
                    &self.model,
                    range,
                    (shown, positions),
                    (1.0, clamp),
                    seed,
                    device,
                )
            }
        };
        let mut model = constraints::measure(&held, options.seed, writer(false, false));
        progress(0.4, "writing with the pins hidden");
        let mut blind = constraints::measure(&held, options.seed, writer(true, false));
        progress(0.5, "writing with the pins clamped");
        let clamped = constraints::measure(&held, options.seed, writer(false, true));
        model.anticipation = curve.finish();
        blind.anticipation = blind_curve.finish();
        let (met, all) = clamped.rates.iter().fold((0.0, 0), |(m, n), (set, rate)| {
            let pins = clamped.pins.get(set).copied().unwrap_or(0);
            (m + rate * pins as f64, n + pins)
        });
        let scores = ConstraintScores {
            model,
            blind: Some(blind),
            clamped: Some(met / all.max(1) as f64),
            constrained_predictive: Some(constrained),
        };

        progress(0.6, "sampling");
        let steps = self.config.generate_steps.clamp(16, 512);
        let positions = regular_positions(steps, 16);
        let samples = (0..options.samples)
            .map(|i| {
                let written = fill(
                    &self.model,
                    range,
                    (&[vec![None; steps]], std::slice::from_ref(&positions)),
                    (1.0, false),
                    options.seed + i as u64,
                    device,
                );
                tokens_excerpt(&written[0], range)
            })
            .collect();
        let held_streams: Vec<Vec<usize>> = data
            .held
            .iter()
            .map(|s| {
                let mut t = melody_tokens(&melody_notes(s), range);
                t.truncate(MAX_TUNE_STEPS);
                t
            })
            .filter(|t| !t.is_empty())
            .collect();
        let mut evaluated = crate::measures::melody_case(
            data,
            *range,
            held_streams,
            Some(predictive),
            samples,
            steps,
            options,
            progress,
        );
        evaluated.model.constraints = Some(scores);
        Ok(evaluated)
    }
}
