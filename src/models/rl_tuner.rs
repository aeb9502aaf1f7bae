//! RL-Tuner (Jaques et al. 2017, "Sequence Tutor"; magenta's rl_tuner): a trained LSTM melody
//! model is copied into a Q-network, a target network and a frozen reward network, and the
//! Q-network is trained by deep Q-learning. The reward of playing token a after state s is
//! r = log p(a | s) under the frozen network + w · r_MT, r_MT scoring music-theory rules
//! (`measures::rules`): it keeps what the data taught and fixes what the rules forbid.
//!
//! One training step acts one step of the current composition (ε-greedy, ε annealed over the
//! run; otherwise sampled from the softmax of the Q-values), stores the transition with the
//! recurrent state it was taken in, and fits the Q-values of a minibatch of stored transitions
//! to r + γ · max Q_target(s′). The target network is a copy of the Q-network refreshed every
//! `target_every` steps.

use burn::module::Module;
use burn::nn::LstmState;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::lstm::{LstmMelody, LstmMelodyConfig, TrainedLstm, start_token, tokens_to_score};
use super::{Sample, Session, rows, sample_logits, step_value};
use crate::data::PitchRange;
use crate::measures::rules::{self, Composition, RuleWeights};
use crate::music::key::Key;

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "Reinforcement(RNN): deep Q-learning on a copy of a trained LSTM, reward log p(a|s) + w · r_MT",
    reference: "Jaques, Gu, Turner & Eck, \"Sequence Tutor: Conservative Fine-Tuning of Sequence Generation Models with KL-control\" / \"Tuning Recurrent Neural Networks with Reinforcement Learning\" (2017); magenta models/rl_tuner",
    deviations: &[
        (
            "the target network is copied every 100 steps (the reference: a soft update at rate 0.01 each step)",
            "the classic DQN update, one line instead of a parameter-wise blend",
        ),
        (
            "runs of thousands of steps with ε annealed over 2 000 (the reference: 3 000 000 steps, ε over 500 000)",
            "a run a user can watch on a 2-core CPU; the rules' statistics move within it",
        ),
        (
            "the key of the rules is the one most of the corpus's tunes are in (estimated per tune), not always C major",
            "our tunes are not transposed to C",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "rl-tuner",
    title: "RL-Tuner (Sequence Tutor)",
    description: "Tunes a trained LSTM by Q-learning: keeps what the data taught, fixes what music theory forbids.",
    default_corpus: "celtic",
    learning_rate: 5e-4,
    family: super::Family::Predictive,
    card: CARD,
    default_config: || super::ModelConfig::RlTuner(RlTunerConfig::default()),
    session: build_session,
    load,
};

crate::hyperparameters! {
    /// Hyperparameters of RL-Tuner (the layer sizes and range are copied from the starting run).
    pub struct RlTunerConfig {
        /// Weight w of the music-theory reward against log p(a|s) (the paper's 1/c; its code's reward_scaler).
        pub music_theory_weight: f64 = 0.1; 0.0..=100.0,
        /// 0 = Q-learning (target: the best next value), 1 = Ψ-learning (the soft maximum log Σ exp of the next values), 2 = G-learning (log p(a|s) leaves the reward; the next state's value is log Σ p(a′|s′) exp G).
        pub algorithm: usize = 0; 0..=2,
        /// Discount γ of future rewards (the reference: 0.5).
        pub discount: f64 = 0.5; 0.0..=0.99,
        /// Steps over which the exploration rate ε falls from 1 to its final value.
        pub exploration_steps: usize = 2000; 0..=10000000,
        /// Final exploration rate ε (the reference: 0.1).
        pub final_epsilon: f64 = 0.1; 0.0..=1.0,
        /// Steps between two copies of the Q-network into the target network.
        pub target_every: usize = 100; 1..=1000000,
        /// Transitions kept for experience replay.
        pub replay: usize = 20000; 100..=1000000,
        /// Training steps (one action and one minibatch each) per epoch.
        pub steps_per_epoch: usize = 200; 1..=1000000,
        /// Steps of a composition (the reference: 32 sixteenths).
        pub composition: usize = 32; 8..=512,
        /// Weight of the key rule (a note outside the key: −1).
        pub w_key: f64 = 1.0; 0.0..=10.0,
        /// Weight of the tonic rule (tonic first and at the last bar: +3).
        pub w_tonic: f64 = 1.0; 0.0..=10.0,
        /// Weight of the repetition rule (a note repeated excessively: −100).
        pub w_repetition: f64 = 1.0; 0.0..=10.0,
        /// Weight of the autocorrelation rule (−3·|r| at lags 1–3 above 0.15).
        pub w_autocorrelation: f64 = 1.0; 0.0..=10.0,
        /// Weight of the motif rule (a motif in the last bar: +3).
        pub w_motif: f64 = 1.0; 0.0..=10.0,
        /// Weight of the repeated-motif rule (+4).
        pub w_repeated_motif: f64 = 1.0; 0.0..=10.0,
        /// Weight of the preferred-intervals rule (the reference's table × 5).
        pub w_intervals: f64 = 1.0; 0.0..=10.0,
        /// Weight of the leap rule (resolved +5, doubled −5).
        pub w_leaps: f64 = 1.0; 0.0..=10.0,
        /// Weight of the unique-extremes rule (+3 each at the end).
        pub w_unique: f64 = 1.0; 0.0..=10.0,
        /// LSTM units per layer (set from the starting run).
        pub hidden: usize = 256; 1..=2048,
        /// LSTM layers (set from the starting run).
        pub layers: usize = 2; 1..=6,
        /// Token embedding size (set from the starting run).
        pub embedding: usize = 32; 1..=1024,
        /// Lowest pitch of the melody range (set from the starting run).
        pub low: usize = 53; 0..=127,
        /// Highest pitch of the melody range (set from the starting run).
        pub high: usize = 88; 0..=127,
    }
}

impl RlTunerConfig {
    /// The network settings of the starting LSTM.
    pub fn lstm(&self) -> LstmMelodyConfig {
        LstmMelodyConfig {
            hidden: self.hidden,
            layers: self.layers,
            embedding: self.embedding,
            ..LstmMelodyConfig::default()
        }
    }

    /// The melody range.
    pub fn range(&self) -> PitchRange {
        PitchRange {
            low: self.low.min(127) as u8,
            high: self.high.clamp(self.low, 127) as u8,
        }
    }

    /// The rules' weights.
    pub fn weights(&self) -> RuleWeights {
        RuleWeights {
            key: self.w_key,
            tonic: self.w_tonic,
            repetition: self.w_repetition,
            autocorrelation: self.w_autocorrelation,
            motif: self.w_motif,
            repeated_motif: self.w_repeated_motif,
            intervals: self.w_intervals,
            leaps: self.w_leaps,
            unique: self.w_unique,
        }
    }
}

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    let super::ModelConfig::RlTuner(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let session = RlTunerSession::new(c.clone(), args)?;
    let vocabulary = super::Vocabulary::Melody(c.range());
    Ok((Box::new(session), vocabulary))
}

/// What an RL-Tuner checkpoint holds: the tuned Q-network and the frozen network it started
/// from (so that a tuned run is measured against its start even if that run is deleted).
#[derive(Module, Debug)]
pub struct TunedNets {
    q: LstmMelody,
    start: LstmMelody,
}

/// The registry's `load`: a tuned network is an LSTM melody model (its Q-values are its
/// logits), generated from and measured like one, and its compositions are also scored by the
/// network it started from.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (super::ModelConfig::RlTuner(c), super::Vocabulary::Melody(range)) = (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    let lstm = c.lstm();
    let nets = super::load_module(
        TunedNets {
            q: LstmMelody::new(&lstm, &range, device),
            start: LstmMelody::new(&lstm, &range, device),
        },
        path,
    )?;
    Ok(Box::new(TrainedRlTuner {
        tuned: TrainedLstm::from_parts(nets.q.clone(), lstm, range),
        q: nets.q,
        start: nets.start,
        range,
        composition: c.composition,
    }))
}

/// A tuned run.
pub struct TrainedRlTuner {
    tuned: TrainedLstm,
    q: LstmMelody,
    start: LstmMelody,
    range: PitchRange,
    composition: usize,
}

/// Mean log p(a|s) per step of `compositions` under `net` (each fed from the start token).
fn mean_log_p(
    net: &LstmMelody,
    range: &PitchRange,
    compositions: &[Vec<usize>],
    device: &Device,
) -> f64 {
    let steps = compositions.first().map_or(0, Vec::len);
    if steps == 0 {
        return f64::NAN;
    }
    let data: Vec<i64> = compositions
        .iter()
        .flat_map(|c| {
            std::iter::once(start_token(range))
                .chain(c[..steps - 1].iter().copied())
                .map(|t| t as i64)
        })
        .collect();
    let input =
        Tensor::<2, Int>::from_data(TensorData::new(data, [compositions.len(), steps]), device);
    let (scores, _) = net.forward(input, None);
    let scores = rows(log_softmax(scores, 1));
    let total: f64 = compositions
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.iter().enumerate().map(move |(s, &t)| (i * steps + s, t)))
        .map(|(row, t)| f64::from(scores[row][t]))
        .sum();
    total / (compositions.len() * steps) as f64
}

impl super::Trained for TrainedRlTuner {
    fn generate(
        &self,
        options: &super::GenerateOptions,
        device: &Device,
    ) -> Result<crate::music::Score, String> {
        self.tuned.generate(options, device)
    }

    /// As an LSTM is measured, plus the mean log p(a|s) of its compositions under the network
    /// it started from (how much of the data it keeps) and that network's own.
    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        let mut evaluated = self.tuned.evaluate(data, options, device, progress)?;
        let count = options.samples.clamp(1, 1000);
        let steps = self.composition.max(1);
        let tuned = compose(&self.q, &self.range, count, steps, options.seed, device);
        let start = compose(&self.start, &self.range, count, steps, options.seed, device);
        if let Some(rules) = evaluated.model.rules.as_mut() {
            rules.log_p_start = Some(mean_log_p(&self.start, &self.range, &tuned, device));
            rules.log_p_start_own = Some(mean_log_p(&self.start, &self.range, &start, device));
        }
        Ok(evaluated)
    }
}

/// One stored transition.
#[derive(Clone)]
struct Transition {
    /// The Q-network's state before the step (per layer: cell, then hidden).
    state: Vec<f32>,
    /// The token fed in (the previous one).
    input: usize,
    /// The token played.
    action: usize,
    /// log p(a|s) under the frozen network.
    data: f32,
    /// The weighted rules' reward.
    theory: f32,
    /// The state after the step.
    next: Vec<f32>,
    /// The frozen network's state after the step (G-learning reads p(a′|s′) from it).
    reward_next: Vec<f32>,
    /// The composition ended with this step.
    done: bool,
}

/// The composition being played.
struct Episode {
    composition: Composition,
    q_state: Option<Vec<LstmState<2>>>,
    reward_state: Option<Vec<LstmState<2>>>,
    previous: usize,
}

/// RL-Tuner under training.
pub struct RlTunerSession {
    q: LstmMelody,
    target: LstmMelody,
    reward_net: LstmMelody,
    optimizer: burn::optim::ModuleOptimizer,
    config: RlTunerConfig,
    range: PitchRange,
    key: Key,
    replay: Vec<Transition>,
    next_slot: usize,
    episode: Option<Episode>,
    steps: usize,
    batch: usize,
    learning_rate: f64,
    rng: rand::rngs::StdRng,
    device: Device,
    /// The starting network's validation figures (measured once).
    start: Vec<(String, f64)>,
}

/// Compositions written per validation.
const VALIDATION_COMPOSITIONS: usize = 64;

/// A state as one row: per layer, cell then hidden.
fn state_rows(states: &[LstmState<2>]) -> Vec<Vec<f32>> {
    let parts: Vec<Vec<Vec<f32>>> = states
        .iter()
        .flat_map(|s| [rows(s.cell.clone().inner()), rows(s.hidden.clone().inner())])
        .collect();
    let batch = parts.first().map_or(0, Vec::len);
    (0..batch)
        .map(|b| parts.iter().flat_map(|p| p[b].iter().copied()).collect())
        .collect()
}

/// Rows back into per-layer states `[batch, hidden]`.
fn row_states(rows: &[&[f32]], layers: usize, hidden: usize, device: &Device) -> Vec<LstmState<2>> {
    let part = |k: usize| {
        let data: Vec<f32> = rows
            .iter()
            .flat_map(|r| r[k * hidden..(k + 1) * hidden].iter().copied())
            .collect();
        Tensor::<2>::from_data(TensorData::new(data, [rows.len(), hidden]), device)
    };
    (0..layers)
        .map(|l| LstmState::new(part(2 * l), part(2 * l + 1)))
        .collect()
}

fn tokens_tensor(tokens: &[usize], device: &Device) -> Tensor<2, Int> {
    let data: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(data, [tokens.len(), 1]), device)
}

/// log Σ exp of some values, computed stably.
fn log_sum_exp(values: impl Iterator<Item = f32> + Clone) -> f32 {
    let max = values.clone().fold(f32::NEG_INFINITY, f32::max);
    max + values.map(|v| (v - max).exp()).sum::<f32>().ln()
}

/// The key most of `scores`' melodies are in (estimated per piece).
fn corpus_key(scores: &[crate::music::Score]) -> Key {
    let mut counts: std::collections::BTreeMap<(u8, bool), usize> = Default::default();
    for score in scores {
        if let Some(k) = crate::music::key::estimate_key(score) {
            *counts
                .entry((k.tonic, k.mode == crate::music::key::Mode::Minor))
                .or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map_or(
        Key {
            tonic: 0,
            mode: crate::music::key::Mode::Major,
        },
        |((tonic, minor), _)| Key {
            tonic,
            mode: if minor {
                crate::music::key::Mode::Minor
            } else {
                crate::music::key::Mode::Major
            },
        },
    )
}

impl RlTunerSession {
    /// Loads the starting LSTM three times (Q, target, frozen reward network).
    pub fn new(config: RlTunerConfig, args: &super::SessionArgs<'_>) -> Result<Self, String> {
        let range = config.range();
        let lstm = config.lstm();
        let inner = args.device.clone().inner();
        let (q, frozen) = match args.from {
            Some(file) => (
                super::load_module(LstmMelody::new(&lstm, &range, args.device), file)?,
                super::load_module(LstmMelody::new(&lstm, &range, &inner), file)?,
            ),
            // Untrained networks of the default sizes: only the model card and the benchmark
            // build a tuner without a starting run (training refuses to).
            None => {
                let q = LstmMelody::new(&lstm, &range, args.device);
                let frozen = q.valid();
                (q, frozen)
            }
        };
        let mut session = Self {
            target: q.valid(),
            reward_net: frozen,
            q,
            optimizer: super::optim::adam(0.9),
            key: corpus_key(args.training_only),
            range,
            replay: Vec::new(),
            next_slot: 0,
            episode: None,
            steps: 0,
            batch: args.batch.max(1),
            learning_rate: args.learning_rate,
            rng: rand::rngs::StdRng::seed_from_u64(args.seed),
            device: args.device.clone(),
            start: Vec::new(),
            config,
        };
        let reward_net = session.reward_net.clone();
        session.start = session
            .measure(&reward_net)
            .into_iter()
            .map(|(n, v)| (format!("{n} (start)"), v))
            .collect();
        Ok(session)
    }

    fn epsilon(&self) -> f64 {
        let end = self.config.final_epsilon.clamp(0.0, 1.0);
        let span = self.config.exploration_steps.max(1) as f64;
        end + (1.0 - end) * (1.0 - self.steps as f64 / span).max(0.0)
    }

    /// Acts one step of the current composition; returns (log p part, rules part).
    fn act(&mut self) -> (f64, f64) {
        let inner = self.device.clone().inner();
        let explore = self.rng.random_bool(self.epsilon());
        let length = self.config.composition.max(1);
        let episode = self.episode.get_or_insert_with(|| Episode {
            composition: Composition::new(self.range, self.key, length),
            q_state: None,
            reward_state: None,
            previous: start_token(&self.range),
        });
        let input = tokens_tensor(&[episode.previous], &inner);
        let q_net = self.q.valid();
        let before = episode.q_state.as_ref().map_or_else(
            || vec![0.0; 2 * self.config.layers * self.config.hidden],
            |s| state_rows(s).remove(0),
        );
        let (q_values, q_state) = q_net.forward(input.clone(), episode.q_state.take());
        let (scores, reward_state) = self.reward_net.forward(input, episode.reward_state.take());
        let q_values = rows(q_values).remove(0);
        let action = if explore {
            self.rng.random_range(0..q_values.len())
        } else {
            sample_logits(&q_values, 1.0, &mut self.rng)
        };
        let log_p = f64::from(rows(log_softmax(scores, 1)).remove(0)[action]);
        let judgement = episode.composition.push(action);
        let done = episode.composition.tokens().len() >= length;
        let (data, theory) = {
            let theory = rules::music_theory_reward(
                &episode.composition,
                &judgement,
                &self.config.weights(),
            );
            (log_p, self.config.music_theory_weight * theory)
        };
        let transition = Transition {
            state: before,
            input: episode.previous,
            action,
            data: data as f32,
            theory: theory as f32,
            next: state_rows(&q_state).remove(0),
            reward_next: state_rows(&reward_state).remove(0),
            done,
        };
        episode.q_state = Some(q_state);
        episode.reward_state = Some(reward_state);
        episode.previous = action;
        if done {
            self.episode = None;
        }
        let capacity = self.config.replay.max(1);
        if self.replay.len() < capacity {
            self.replay.push(transition);
        } else {
            self.replay[self.next_slot] = transition;
            self.next_slot = (self.next_slot + 1) % capacity;
        }
        (data, theory)
    }

    /// Writes compositions with `net` (sampling its softmax) and measures them: the rules'
    /// statistics, the mean log p(a|s) under the frozen network and the mean rules reward.
    fn measure(&self, net: &LstmMelody) -> Vec<(String, f64)> {
        let inner = self.device.clone().inner();
        let compositions = compose(
            net,
            &self.range,
            VALIDATION_COMPOSITIONS,
            self.config.composition,
            7,
            &inner,
        );
        let stats = rules::rule_stats(&compositions, &self.range);
        let (mut log_p, mut theory, mut steps) = (0.0, 0.0, 0usize);
        let previous: Vec<Vec<usize>> = compositions
            .iter()
            .map(|c| {
                std::iter::once(start_token(&self.range))
                    .chain(c[..c.len() - 1].iter().copied())
                    .collect()
            })
            .collect();
        let data: Vec<i64> = previous.iter().flatten().map(|&t| t as i64).collect();
        let input = Tensor::<2, Int>::from_data(
            TensorData::new(data, [previous.len(), self.config.composition]),
            &inner,
        );
        let (scores, _) = self.reward_net.forward(input, None);
        let scores = rows(log_softmax(scores, 1));
        for (i, c) in compositions.iter().enumerate() {
            let mut composition = Composition::new(self.range, self.key, c.len());
            for (s, &t) in c.iter().enumerate() {
                log_p += f64::from(scores[i * c.len() + s][t]);
                let j = composition.push(t);
                theory += rules::music_theory_reward(&composition, &j, &self.config.weights());
                steps += 1;
            }
        }
        let n = steps.max(1) as f64;
        vec![
            ("excessively repeated".into(), stats.excessively_repeated),
            ("not in key".into(), stats.not_in_key),
            ("starts with tonic".into(), stats.starts_with_tonic),
            ("leaps resolved".into(), stats.leaps_resolved),
            ("in motif".into(), stats.in_motif),
            ("in repeated motif".into(), stats.in_repeated_motif),
            ("autocorrelation lag 1".into(), stats.autocorrelation_lag1),
            ("unique max".into(), stats.unique_max),
            ("mean log p(a|s)".into(), log_p / n),
            ("mean music-theory reward".into(), theory / n),
        ]
    }
}

/// Writes `count` compositions of `steps` tokens with `net`, sampling the softmax of its
/// outputs (temperature 1) from the start token, all at once.
pub fn compose(
    net: &LstmMelody,
    range: &PitchRange,
    count: usize,
    steps: usize,
    seed: u64,
    device: &Device,
) -> Vec<Vec<usize>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut previous = vec![start_token(range); count];
    let mut state = None;
    let mut out = vec![Vec::with_capacity(steps); count];
    for _ in 0..steps {
        let (logits, s) = net.forward(tokens_tensor(&previous, device), state);
        state = Some(s);
        for ((row, written), previous) in rows(logits).iter().zip(&mut out).zip(&mut previous) {
            let token = sample_logits(row, 1.0, &mut rng);
            written.push(token);
            *previous = token;
        }
    }
    out
}

impl Session for RlTunerSession {
    fn loss_names(&self) -> Vec<String> {
        vec![
            "Q-loss".into(),
            "reward".into(),
            "music-theory part".into(),
            "log p(a|s) part".into(),
            "ε (exploration)".into(),
        ]
    }

    fn steps_per_epoch(&self) -> usize {
        self.config.steps_per_epoch.max(1)
    }

    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.rng = rand::rngs::StdRng::seed_from_u64(rng.random());
    }

    fn resume_state(&self) -> Vec<f64> {
        Vec::new()
    }

    fn restore(&mut self, global_step: usize, _state: &[f64]) {
        self.steps = global_step;
    }

    fn train_step(&mut self, _step: usize) -> super::StepLosses {
        let epsilon = self.epsilon();
        let (data, theory) = self.act();
        self.steps += 1;
        let device = self.device.clone();
        let mut q_loss = step_value(0.0, &device);
        if self.replay.len() >= self.batch {
            let picks: Vec<usize> = (0..self.batch)
                .map(|_| self.rng.random_range(0..self.replay.len()))
                .collect();
            let batch: Vec<&Transition> = picks.iter().map(|&i| &self.replay[i]).collect();
            let (layers, hidden) = (self.config.layers.max(1), self.config.hidden.max(1));
            let inner = device.clone().inner();
            let next: Vec<&[f32]> = batch.iter().map(|t| t.next.as_slice()).collect();
            let actions: Vec<usize> = batch.iter().map(|t| t.action).collect();
            let (target, _) = self.target.forward(
                tokens_tensor(&actions, &inner),
                Some(row_states(&next, layers, hidden, &inner)),
            );
            let gamma = self.config.discount as f32;
            let algorithm = self.config.algorithm;
            // G-learning weighs the next values by the frozen network's p(a′|s′).
            let prior: Option<Vec<Vec<f32>>> = (algorithm == 2).then(|| {
                let states: Vec<&[f32]> = batch.iter().map(|t| t.reward_next.as_slice()).collect();
                let (scores, _) = self.reward_net.forward(
                    tokens_tensor(&actions, &inner),
                    Some(row_states(&states, layers, hidden, &inner)),
                );
                rows(log_softmax(scores, 1))
            });
            let goals: Vec<f32> = rows(target)
                .iter()
                .enumerate()
                .zip(&batch)
                .map(|((b, row), t)| {
                    let next = match (algorithm, &prior) {
                        (1, _) => log_sum_exp(row.iter().copied()),
                        (2, Some(prior)) => {
                            log_sum_exp(row.iter().zip(&prior[b]).map(|(g, p)| g + p))
                        }
                        _ => row.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                    };
                    let reward = if algorithm == 2 {
                        t.theory
                    } else {
                        t.data + t.theory
                    };
                    reward + if t.done { 0.0 } else { gamma * next }
                })
                .collect();
            let before: Vec<&[f32]> = batch.iter().map(|t| t.state.as_slice()).collect();
            let inputs: Vec<usize> = batch.iter().map(|t| t.input).collect();
            let (q_values, _) = self.q.forward(
                tokens_tensor(&inputs, &device),
                Some(row_states(&before, layers, hidden, &device)),
            );
            let vocab = self.range.vocab_size();
            let mut mask = vec![0.0f32; batch.len() * vocab];
            for (b, &a) in actions.iter().enumerate() {
                mask[b * vocab + a] = 1.0;
            }
            let mask = Tensor::<2>::from_data(TensorData::new(mask, [batch.len(), vocab]), &device);
            let chosen = (q_values * mask).sum_dim(1).reshape([batch.len()]);
            let goals = Tensor::<1>::from_data(TensorData::new(goals, [batch.len()]), &device);
            let gap = chosen - goals;
            let loss = (gap.clone() * gap).mean();
            q_loss = loss.clone();
            super::optimize(
                &mut self.optimizer,
                self.learning_rate,
                &mut self.q,
                loss.backward(),
            );
        }
        if self.steps.is_multiple_of(self.config.target_every.max(1)) {
            self.target = self.q.valid();
        }
        super::StepLosses::new([
            q_loss,
            step_value(data + theory, &device),
            step_value(theory, &device),
            step_value(data, &device),
            step_value(epsilon, &device),
        ])
    }

    fn validate(&mut self) -> Vec<(String, f64)> {
        let q = self.q.valid();
        let mut out = self.measure(&q);
        out.extend(self.start.iter().cloned());
        out
    }

    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let inner = self.device.clone().inner();
        let steps = self.config.composition;
        let tuned = compose(&self.q.valid(), &self.range, 1, steps, seed, &inner).remove(0);
        let start = compose(&self.reward_net, &self.range, 1, steps, seed, &inner).remove(0);
        vec![
            Sample {
                label: "tuned".into(),
                score: tokens_to_score("rl-tuner", &tuned, &self.range),
            },
            Sample {
                label: "the starting LSTM, same seed".into(),
                score: tokens_to_score("lstm", &start, &self.range),
            },
        ]
    }

    fn flops_per_example(&self) -> Option<f64> {
        // Per minibatch example: one step of the Q-network (forward and backward) and one of
        // the target network; acting adds two single steps per training step.
        let layers = self.layers();
        Some(super::card::matmul_flops(&layers, |_| 1.0) * (super::card::TRAINING_PASSES + 1.0))
    }

    fn layers(&self) -> Vec<super::card::LayerShape> {
        super::card::layers("Q-network", &self.q)
    }

    fn save(&self, path: &std::path::Path) -> Result<(), String> {
        let nets = TunedNets {
            q: self.q.clone(),
            start: self.reward_net.clone(),
        };
        super::save_with_optimizer(&nets, &self.optimizer, path)?;
        super::save_module(&self.target, &path.with_extension(TARGET_EXTENSION))?;
        let state = path.with_extension(STATE_EXTENSION);
        std::fs::write(&state, self.encode_state())
            .map_err(|e| format!("{}: cannot save the replay buffer: {e}", state.display()))
    }

    fn load(&mut self, path: &std::path::Path) -> Result<(), String> {
        let nets = TunedNets {
            q: self.q.clone(),
            start: self.reward_net.clone(),
        };
        let nets = super::load_with_optimizer(nets, &mut self.optimizer, path)?;
        self.q = nets.q;
        self.reward_net = nets.start;
        // A packed (shipped) run keeps neither the target network nor the replay buffer: the
        // tuner then starts them afresh from its Q-network (it resumes, not exactly).
        let target = path.with_extension(TARGET_EXTENSION);
        self.target = if target.is_file() {
            super::load_module(self.q.valid(), &target)?
        } else {
            self.q.valid()
        };
        let state = path.with_extension(STATE_EXTENSION);
        if state.is_file() {
            let bytes = std::fs::read(&state).map_err(|e| format!("{}: {e}", state.display()))?;
            self.decode_state(&bytes)
                .map_err(|e| format!("{}: damaged replay buffer ({e})", state.display()))?;
        }
        Ok(())
    }
}

/// Beside the model file: the replay buffer and the composition being played, so that a
/// resumed tuner goes on exactly as if it had not stopped (not a `.bpk`: packing leaves it out).
const STATE_EXTENSION: &str = "replay.bin";
/// Beside the model file: the target network (between two copies it lags the Q-network).
const TARGET_EXTENSION: &str = "target.state";
/// The first bytes of a replay file, with its format's version.
const STATE_MAGIC: &[u8; 8] = b"MLTUNER1";

fn put_u64(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&(value as u64).to_le_bytes());
}

fn put_floats(out: &mut Vec<u8>, values: &[f32]) {
    put_u64(out, values.len());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Reads what the `put_` functions wrote, failing on a short or oversized field.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err("the file ends early".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u64(&mut self) -> Result<usize, String> {
        let b = self.bytes(8)?;
        let v = u64::from_le_bytes(b.try_into().map_err(|_| "short field")?);
        usize::try_from(v).map_err(|_| "a count too large".to_string())
    }
    fn f32(&mut self) -> Result<f32, String> {
        let b = self.bytes(4)?;
        Ok(f32::from_le_bytes(b.try_into().map_err(|_| "short field")?))
    }
    fn floats(&mut self) -> Result<Vec<f32>, String> {
        let n = self.u64()?;
        if n > self.0.len() / 4 {
            return Err("a vector longer than the file".into());
        }
        (0..n).map(|_| self.f32()).collect()
    }
}

impl RlTunerSession {
    /// The replay buffer, its next slot and the episode in play, as bytes.
    fn encode_state(&self) -> Vec<u8> {
        let mut out = STATE_MAGIC.to_vec();
        put_u64(&mut out, self.next_slot);
        put_u64(&mut out, self.replay.len());
        for t in &self.replay {
            put_u64(&mut out, t.input);
            put_u64(&mut out, t.action);
            out.extend_from_slice(&t.data.to_le_bytes());
            out.extend_from_slice(&t.theory.to_le_bytes());
            out.push(u8::from(t.done));
            for state in [&t.state, &t.next, &t.reward_next] {
                put_floats(&mut out, state);
            }
        }
        match &self.episode {
            None => out.push(0),
            Some(e) => {
                out.push(1);
                put_u64(&mut out, e.previous);
                let tokens = e.composition.tokens();
                put_u64(&mut out, tokens.len());
                tokens.iter().for_each(|&t| put_u64(&mut out, t));
                for state in [&e.q_state, &e.reward_state] {
                    let row = state.as_ref().map(|s| state_rows(s).remove(0));
                    put_floats(&mut out, row.as_deref().unwrap_or(&[]));
                }
            }
        }
        out
    }

    /// Restores what [`Self::encode_state`] wrote.
    fn decode_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut r = Reader(bytes);
        if r.bytes(STATE_MAGIC.len())? != STATE_MAGIC {
            return Err("not a muselab replay file".into());
        }
        let next_slot = r.u64()?;
        let count = r.u64()?;
        let width = 2 * self.config.layers.max(1) * self.config.hidden.max(1);
        let vocab = self.range.vocab_size();
        let mut replay = Vec::with_capacity(count.min(r.0.len()));
        for _ in 0..count {
            let (input, action) = (r.u64()?, r.u64()?);
            let (data, theory) = (r.f32()?, r.f32()?);
            let done = r.bytes(1)?[0] != 0;
            let (state, next, reward_next) = (r.floats()?, r.floats()?, r.floats()?);
            if input > vocab
                || action >= vocab
                || [&state, &next, &reward_next]
                    .iter()
                    .any(|s| s.len() != width)
            {
                return Err("a transition of another network's size".into());
            }
            replay.push(Transition {
                state,
                input,
                action,
                data,
                theory,
                next,
                reward_next,
                done,
            });
        }
        let episode = match r.bytes(1)?[0] {
            0 => None,
            _ => {
                let previous = r.u64()?;
                let length = self.config.composition.max(1);
                let mut composition = Composition::new(self.range, self.key, length);
                let tokens = r.u64()?;
                for _ in 0..tokens {
                    let token = r.u64()?;
                    if token >= vocab {
                        return Err("a note outside the tuner's range".into());
                    }
                    composition.push(token);
                }
                let inner = self.device.clone().inner();
                let (layers, hidden) = (self.config.layers.max(1), self.config.hidden.max(1));
                let mut state = || -> Result<Option<Vec<LstmState<2>>>, String> {
                    let row = r.floats()?;
                    Ok(match row.len() {
                        0 => None,
                        n if n == width => Some(row_states(&[&row], layers, hidden, &inner)),
                        _ => return Err("an episode state of another size".into()),
                    })
                };
                let (q_state, reward_state) = (state()?, state()?);
                Some(Episode {
                    composition,
                    q_state,
                    reward_state,
                    previous,
                })
            }
        };
        self.replay = replay;
        self.next_slot = next_slot.min(self.replay.len());
        self.episode = episode;
        Ok(())
    }
}
