//! The models, one file each, and what they share: the registry ([`ModelKind`]), hyperparameter
//! forms ([`Field`]) and small tensor helpers.

pub mod anticipation;
pub mod autoencoder;
pub mod averaging;
pub mod card;
pub mod crbm;
pub mod crnn_gan;
pub mod cross_entropy_op;
pub mod deepbach;
pub mod dense_op;
pub mod gan;
pub mod gan_health;
pub mod latent;
pub mod lstm;
pub mod lstm_kernel;
pub mod lstm_op;
pub mod midinet;
pub mod minibach;
pub mod optim;
pub mod poly_lstm;
pub mod rbm;
pub mod recurrent;
pub mod rl_tuner;
pub mod rnn_nade;
pub mod rnn_rbm;
pub mod rnn_vae;
pub mod vae;
pub mod voice_leading;
pub mod vrae;

use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng;

/// The models the app can train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Feedforward soprano → alto, tenor, bass (Briot's mini-bach).
    Minibach,
    /// DeepBach: each voice from its context both ways, sampled by pseudo-Gibbs.
    DeepBach,
    /// Autoencoder on 4-bar melodies (auto-bach).
    Autoencoder,
    /// Stacked autoencoder (DeepHear): several encoder layers, trained end to end.
    StackedAutoencoder,
    /// The sparse autoencoder: an over-complete sigmoid code under a sparsity penalty.
    SparseAutoencoder,
    /// LSTM next-step melody model (folk-rnn style).
    Lstm,
    /// Variational autoencoder with a 2-D latent (the latent map).
    Vae,
    /// Recurrent VAE (VRAE / MusicVAE): BiLSTM encoder, LSTM decoder.
    RnnVae,
    /// The GAN of Goodfellow et al. on one-bar piano rolls.
    Gan,
    /// C-RNN-GAN: LSTM generator, bidirectional LSTM discriminator, on note events.
    CrnnGan,
    /// MidiNet: convolutional GAN conditioned on the previous bar and a chord.
    Midinet,
    /// Restricted Boltzmann Machine on chorale frames.
    Rbm,
    /// RNN-RBM: a recurrence conditioning an RBM per frame.
    RnnRbm,
    /// C-RBM: a convolutional RBM, sampled under constraints.
    Crbm,
    /// Anticipation-RNN: a melody written around pinned notes.
    AnticipationRnn,
    /// VRAE: the first recurrent VAE (tanh RNNs, free-running decoder).
    Vrae,
    /// RL-Tuner: a trained LSTM tuned by Q-learning with music-theory rewards.
    RlTuner,
}

impl ModelKind {
    /// Every model, in menu order.
    pub const ALL: [ModelKind; 17] = [
        Self::Minibach,
        Self::DeepBach,
        Self::Autoencoder,
        Self::StackedAutoencoder,
        Self::SparseAutoencoder,
        Self::Lstm,
        Self::RlTuner,
        Self::Vae,
        Self::RnnVae,
        Self::Vrae,
        Self::Gan,
        Self::CrnnGan,
        Self::Midinet,
        Self::Rbm,
        Self::RnnRbm,
        Self::Crbm,
        Self::AnticipationRnn,
    ];

    /// What the registry holds for this model (see [`ModelInfo`]): the one place a model is
    /// listed, each entry a constant in the model's own file.
    pub fn info(self) -> &'static ModelInfo {
        match self {
            Self::Minibach => &minibach::INFO,
            Self::DeepBach => &deepbach::INFO,
            Self::Autoencoder => &autoencoder::INFO,
            Self::StackedAutoencoder => &autoencoder::STACKED_INFO,
            Self::SparseAutoencoder => &autoencoder::SPARSE_INFO,
            Self::Lstm => &lstm::INFO,
            Self::Vae => &vae::INFO,
            Self::RnnVae => &rnn_vae::INFO,
            Self::Gan => &gan::INFO,
            Self::CrnnGan => &crnn_gan::INFO,
            Self::Midinet => &midinet::INFO,
            Self::Rbm => &rbm::INFO,
            Self::RnnRbm => &rnn_rbm::INFO,
            Self::Crbm => &crbm::INFO,
            Self::AnticipationRnn => &anticipation::INFO,
            Self::Vrae => &vrae::INFO,
            Self::RlTuner => &rl_tuner::INFO,
        }
    }

    /// True for adversarial models (they get the adversarial plots and health checks).
    pub fn is_gan(self) -> bool {
        self.info().family == Family::Adversarial
    }

    /// True for models with a latent space (they get the latent map).
    pub fn has_latent(self) -> bool {
        self.info().family == Family::Latent
    }

    /// Identifier used on the command line and in `models/<id>/`.
    pub fn id(self) -> &'static str {
        self.info().id
    }

    /// Name shown in the UI.
    pub fn title(self) -> &'static str {
        self.info().title
    }

    /// One line on what the model does.
    pub fn description(self) -> &'static str {
        self.info().description
    }

    /// The written part of its model card.
    pub fn card(self) -> card::CardText {
        self.info().card
    }

    /// The corpus it trains on by default.
    pub fn default_corpus(self) -> &'static str {
        self.info().default_corpus
    }

    /// Parses a command-line id.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }
}

/// What kind of model it is, for the views that only some models get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Predicts tokens (feedforward, recurrent, autoencoders).
    Predictive,
    /// Has a latent space (the latent map).
    Latent,
    /// A generator and a discriminator (the adversarial dashboard).
    Adversarial,
}

/// A model's entry in the registry, a constant in its own file.
#[derive(Clone, Copy, Debug)]
pub struct ModelInfo {
    /// Identifier on the command line and in `models/<id>/`.
    pub id: &'static str,
    /// Name shown in the UI.
    pub title: &'static str,
    /// One line on what the model does.
    pub description: &'static str,
    /// The corpus it trains on by default.
    pub default_corpus: &'static str,
    /// Adam's default learning rate.
    pub learning_rate: f64,
    /// What kind of model it is.
    pub family: Family,
    /// The written part of its card.
    pub card: card::CardText,
    /// Its default hyperparameters.
    pub default_config: fn() -> ModelConfig,
    /// Builds its training session.
    pub session: BuildSession,
    /// Loads a trained checkpoint of it for generation and evaluation.
    pub load: LoadTrained,
}

/// Hyperparameters of one model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// mini-bach.
    Minibach(minibach::MiniBachConfig),
    /// DeepBach.
    DeepBach(deepbach::DeepBachConfig),
    /// auto-bach or the stacked autoencoder.
    Autoencoder(autoencoder::AutoencoderConfig),
    /// The LSTM melody model.
    Lstm(lstm::LstmMelodyConfig),
    /// The VAE.
    Vae(vae::VaeConfig),
    /// The recurrent VAE.
    RnnVae(rnn_vae::RnnVaeConfig),
    /// The GAN.
    Gan(gan::GanConfig),
    /// C-RNN-GAN.
    CrnnGan(crnn_gan::CrnnGanConfig),
    /// MidiNet.
    Midinet(midinet::MidiNetConfig),
    /// The RBM.
    Rbm(rbm::RbmConfig),
    /// The RNN-RBM.
    RnnRbm(rnn_rbm::RnnRbmConfig),
    /// The C-RBM.
    Crbm(crbm::CrbmConfig),
    /// The Anticipation-RNN.
    AnticipationRnn(anticipation::AnticipationConfig),
    /// VRAE.
    Vrae(vrae::VraeConfig),
    /// RL-Tuner.
    RlTuner(rl_tuner::RlTunerConfig),
}

impl ModelConfig {
    /// The defaults of a model.
    pub fn default_for(kind: ModelKind) -> Self {
        (kind.info().default_config)()
    }

    /// Sets hyperparameters from `name=value` assignments (the command line's `--set`), in
    /// order; the first that does not parse or is out of range stops with its message.
    pub fn set_all(&mut self, assignments: &[String]) -> Result<(), String> {
        for assignment in assignments {
            let (name, value) = assignment
                .split_once('=')
                .ok_or_else(|| format!("--set {assignment}: write it as name=value"))?;
            self.set(name.trim(), value.trim())?;
        }
        Ok(())
    }

    /// Sets one hyperparameter from text (`name=value` on the command line).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let mut fields = self.fields();
        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
        let known = names.join(", ");
        let field = fields
            .iter_mut()
            .find(|f| f.name == name)
            .ok_or_else(|| format!("no hyperparameter '{name}' here: choose one of {known}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{name}: '{value}' is not a number ({e})");
        let previous = field.number();
        match &mut field.value {
            FieldValue::Usize(v) => **v = value.parse().map_err(|e| bad(&e))?,
            FieldValue::F64(v) => **v = value.parse().map_err(|e| bad(&e))?,
        }
        if let Err(e) = field.check() {
            // Leave the old value in place.
            match &mut field.value {
                FieldValue::Usize(v) => **v = previous as usize,
                FieldValue::F64(v) => **v = previous,
            }
            return Err(e);
        }
        Ok(())
    }

    /// Ok when every hyperparameter lies in its range; else a message naming the first that
    /// does not, with its range.
    pub fn check(&self) -> Result<(), String> {
        self.clone().fields().iter().try_for_each(Field::check)
    }

    /// The form fields of these hyperparameters.
    pub fn fields(&mut self) -> Vec<Field<'_>> {
        match self {
            Self::Minibach(c) => c.fields(),
            Self::DeepBach(c) => c.fields(),
            Self::Autoencoder(c) => c.fields(),
            Self::Lstm(c) => c.fields(),
            Self::Vae(c) => c.fields(),
            Self::RnnVae(c) => c.fields(),
            Self::Gan(c) => c.fields(),
            Self::CrnnGan(c) => c.fields(),
            Self::Midinet(c) => c.fields(),
            Self::Rbm(c) => c.fields(),
            Self::RnnRbm(c) => c.fields(),
            Self::Crbm(c) => c.fields(),
            Self::AnticipationRnn(c) => c.fields(),
            Self::Vrae(c) => c.fields(),
            Self::RlTuner(c) => c.fields(),
        }
    }
}

/// What the data taught the model about pitch: the token vocabularies it was built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vocabulary {
    /// Not known yet (before the data is read).
    Unknown,
    /// Soprano, alto, tenor and bass ranges.
    Voices(minibach::VoiceRanges),
    /// One melody range.
    Melody(crate::data::PitchRange),
    /// A piano roll: lowest pitch, pitch count, steps per bar.
    Roll {
        /// Lowest pitch.
        low: u8,
        /// Pitches.
        pitches: usize,
        /// Steps per bar.
        steps: usize,
    },
    /// Note events (C-RNN-GAN).
    Events,
}

/// What every model's training session is built from.
pub struct SessionArgs<'a> {
    /// The corpus's pieces (as `data::load_scores` reads them; held-out ones included: each
    /// session splits them itself by `data::SPLIT_RULE`).
    pub scores: &'a [crate::music::Score],
    /// The training pieces alone, for sessions without validation measures of their own.
    pub training_only: &'a [crate::music::Score],
    /// Examples per step.
    pub batch: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// The run's seed.
    pub seed: u64,
    /// The device (with autodiff).
    pub device: &'a Device,
    /// The model file of the trained run a tuner starts from (RL-Tuner), its settings already
    /// copied into the hyperparameters by the training layer.
    pub from: Option<&'a std::path::Path>,
}

/// Builds a model's session and says what vocabulary it was built for.
pub type BuildSession =
    fn(&ModelConfig, &SessionArgs<'_>) -> Result<(Box<dyn Session>, Vocabulary), String>;

/// What to generate.
#[derive(Clone, Debug, Default)]
pub struct GenerateOptions {
    /// Seed of the random choices.
    pub seed: u64,
    /// Sampling temperature (0: always the most likely token).
    pub temperature: f64,
    /// A melody to harmonize (mini-bach) or continue (LSTM).
    pub melody: Option<crate::music::Score>,
    /// The melody's track to use (default: the first with notes).
    pub track: Option<String>,
    /// Bars of the melody that prime the LSTM.
    pub prime_bars: usize,
    /// A chord progression for MidiNet ("C G Am F"); default: the chords of `melody`.
    pub chords: Option<String>,
    /// Bars to write (the Boltzmann machines; default 16).
    pub bars: Option<usize>,
    /// Gibbs steps per generated frame (the Boltzmann machines; default: the run's setting).
    pub gibbs_steps: Option<usize>,
    /// The key to write in (the C-RBM's key constraint: "C", "F#m"…).
    pub key: Option<String>,
    /// Weights of the C-RBM's constraints: self-similarity to the template (`melody`), key,
    /// meter.
    pub constraint_weights: Option<[f64; 3]>,
    /// The C-RBM's meter, in quarter-note beats a bar (default 4).
    pub beats: Option<usize>,
    /// Pinned steps for the Anticipation-RNN: "0:D5,16:A4,32:rest".
    pub constraints: Option<String>,
    /// Force pinned steps (the Anticipation-RNN's hard clamp).
    pub clamp: bool,
}

/// A trained model, loaded for inference (no autodiff): it generates, may have a latent space,
/// and says how it is measured on held-out music. Each model file implements it.
pub trait Trained: Send {
    /// Generates a piece.
    fn generate(
        &self,
        options: &GenerateOptions,
        device: &Device,
    ) -> Result<crate::music::Score, String>;

    /// Its latent space, for the map and `encode`/`decode`/`interpolate`.
    fn latent(&self) -> Option<&dyn latent::LatentModel> {
        None
    }

    /// Harmonizes a melody, saying what was done to it (the harmonizers, mini-bach and
    /// DeepBach); `progress` hears the share done. `None` for the models that do not
    /// harmonize this way.
    fn harmonize(
        &self,
        _melody: &crate::music::Score,
        _track: Option<&str>,
        _seed: u64,
        _device: &Device,
        _progress: &mut dyn FnMut(f64),
    ) -> Option<Result<minibach::Harmonized, String>> {
        None
    }

    /// Rewrites the voices ticked in `rewrite` between ticks `span.0..span.1` of a four-voice
    /// score, everything else kept (DeepBach); `None` for the models that cannot.
    fn reharmonize(
        &self,
        _score: &crate::music::Score,
        _span: (u64, u64),
        _rewrite: [bool; 4],
        _seed: u64,
        _device: &Device,
    ) -> Option<Result<crate::music::Score, String>> {
        None
    }

    /// Measures it on the held-out pieces beside the baselines (see `measures`).
    fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String>;
}

/// Loads a model's parameters (the file at the path) into its network built for this config
/// and vocabulary.
pub type LoadTrained =
    fn(&ModelConfig, Vocabulary, &std::path::Path, &Device) -> Result<Box<dyn Trained>, String>;

/// The error for a checkpoint whose config lacks what its network needs.
pub fn missing_vocabulary(path: &std::path::Path) -> String {
    format!(
        "{}: the checkpoint has no vocabulary",
        path.parent().unwrap_or(path).display()
    )
}

/// The error for a config of another model.
pub fn wrong_config(id: &str) -> String {
    format!("the hyperparameters in this config are not those of {id}")
}

/// A value in a hyperparameter form.
pub enum FieldValue<'a> {
    /// A count or size.
    Usize(&'a mut usize),
    /// A rate or weight.
    F64(&'a mut f64),
}

impl<'a> From<&'a mut usize> for FieldValue<'a> {
    fn from(v: &'a mut usize) -> Self {
        Self::Usize(v)
    }
}

impl<'a> From<&'a mut f64> for FieldValue<'a> {
    fn from(v: &'a mut f64) -> Self {
        Self::F64(v)
    }
}

/// One hyperparameter: its name, its doc line (the form's tooltip) and its value.
pub struct Field<'a> {
    /// Field name.
    pub name: &'static str,
    /// The doc comment of the field.
    pub doc: &'static str,
    /// The value to edit.
    pub value: FieldValue<'a>,
    /// The smallest valid value.
    pub min: f64,
    /// The largest valid value.
    pub max: f64,
}

impl Field<'_> {
    /// The value as a number.
    pub fn number(&self) -> f64 {
        match &self.value {
            FieldValue::Usize(v) => **v as f64,
            FieldValue::F64(v) => **v,
        }
    }

    /// Ok when the value lies in `[min, max]`; else a message naming the field and its range.
    pub fn check(&self) -> Result<(), String> {
        let v = self.number();
        if v.is_finite() && v >= self.min && v <= self.max {
            Ok(())
        } else {
            Err(format!(
                "{} must be between {} and {} (it is {v})",
                self.name, self.min, self.max
            ))
        }
    }
}

/// Declares a hyperparameter struct whose doc lines double as the form's tooltips: each field
/// gets a default and a valid range (`= default; min..=max`) and appears in `fields()` with its
/// doc text and range; out-of-range values are refused before a run starts
/// ([`ModelConfig::check`]). (burn's `Config` derive keeps no
/// doc text at run time, which the form needs.)
#[macro_export]
macro_rules! hyperparameters {
    ($(#[doc = $sdoc:literal])* pub struct $name:ident {
        $( #[doc = $doc:literal] pub $field:ident : $ty:ty = $default:expr ; $lo:literal ..= $hi:literal, )*
    }) => {
        $(#[doc = $sdoc])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        pub struct $name {
            $( #[doc = $doc] pub $field: $ty, )*
        }
        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $default, )* }
            }
        }
        impl $name {
            /// The fields for a form, with their doc lines.
            pub fn fields(&mut self) -> Vec<$crate::models::Field<'_>> {
                vec![ $( $crate::models::Field {
                    name: stringify!($field),
                    doc: $doc.trim(),
                    value: (&mut self.$field).into(),
                    min: $lo as f64,
                    max: $hi as f64,
                }, )* ]
            }
        }
    };
}

/// One-hot encodes token rows: `[rows, steps]` tokens → `[rows, steps * vocab]` floats.
pub fn one_hot(rows: &[&[usize]], vocab: usize, device: &Device) -> Tensor<2> {
    let steps = rows.first().map_or(0, |r| r.len());
    let mut data = vec![0.0f32; rows.len() * steps * vocab];
    for (r, row) in rows.iter().enumerate() {
        for (s, &token) in row.iter().enumerate() {
            data[(r * steps + s) * vocab + token.min(vocab - 1)] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(data, [rows.len(), steps * vocab]), device)
}

/// Token targets as an int tensor `[rows * steps]`.
pub fn targets(rows: &[&[usize]], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.iter().map(|&t| t as i64))
        .collect();
    let len = data.len();
    Tensor::from_data(TensorData::new(data, [len]), device)
}

/// True for burn's CPU backend (with or without autodiff), where muselab's own kernels run.
pub fn is_cpu(device: &Device) -> bool {
    *device == Device::flex() || *device == Device::flex().autodiff()
}

/// burn's dropout, with the mask drawn by a small fast generator on the CPU.
///
/// Why: burn draws a dropout mask value by value through its generic distribution sampler and
/// then masks with a select; in the GAN's discriminator (dropout 0.5 on two layers) that was a
/// sixth of a training step under `perf`. Here one seed comes from burn's generator (so a run
/// stays reproducible from the device seed) and a SplitMix64 stream fills the mask of kept
/// values' scales `1/(1 − p)` and zeros, applied with one product. Elsewhere (a GPU, inference,
/// a frozen layer) burn's own layer runs.
pub fn dropout<const D: usize>(layer: &burn::nn::Dropout, input: Tensor<D>) -> Tensor<D> {
    let device = input.device();
    if !is_cpu(&device) || !device.is_autodiff() || !layer.training.is_enabled() {
        return layer.forward(input);
    }
    if layer.prob <= 0.0 {
        return input;
    }
    let seed = Tensor::<1>::random(
        [2],
        burn::tensor::Distribution::Uniform(0.0, 4_294_967_296.0),
        &device.clone().inner(),
    )
    .into_data()
    .convert::<f32>()
    .try_into_vec::<f32>()
    .unwrap_or_default();
    let mut state = seed.iter().fold(0x9E37_79B9_7F4A_7C15u64, |acc, &v| {
        acc.rotate_left(32) ^ u64::from(v as u32)
    });
    let keep = 1.0 - layer.prob;
    let threshold = (keep * f64::from(u32::MAX)) as u32;
    let scale = (1.0 / keep) as f32;
    let shape = input.dims();
    let count: usize = shape.iter().product();
    let mut mask = Vec::with_capacity(count);
    while mask.len() < count {
        // SplitMix64: two 32-bit draws per step.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        for half in [z as u32, (z >> 32) as u32] {
            if mask.len() < count {
                mask.push(if half < threshold { scale } else { 0.0 });
            }
        }
    }
    let mask = Tensor::<D>::from_data(TensorData::new(mask, shape), &device.inner());
    input * mask
}

/// Visible biases at the log-odds log(p / (1 − p)) of each unit's frequency in the data, as
/// Hinton's practical guide advises for Boltzmann machines: the machine starts from the
/// independent model of the data, and its hidden units learn only what that leaves out
/// (without it, an RBM's first epochs went into learning the frequencies).
pub fn log_odds(frequencies: &[f32], device: &Device) -> burn::module::Param<Tensor<1>> {
    let logits: Vec<f32> = frequencies
        .iter()
        .map(|&p| {
            let p = p.clamp(1e-3, 1.0 - 1e-3);
            (p / (1.0 - p)).ln()
        })
        .collect();
    let count = logits.len();
    burn::module::Param::from_tensor(Tensor::from_data(TensorData::new(logits, [count]), device))
}

/// Reads a one-element tensor back as `f64`.
pub fn scalar(tensor: Tensor<1>) -> f64 {
    f64::from(tensor.into_scalar::<f32>())
}

/// What one training step reports (its losses and probes), still on the device that computed
/// them: one-element tensors, in the order of [`Session::loss_names`].
///
/// Why not plain numbers: reading a value back from a GPU waits for all the work queued before
/// it, so a step that reads its loss at once can never overlap with the next one. The trainer
/// collects many steps' values and reads them in one transfer ([`read_steps`]); on the CPU it
/// reads every step, which costs nothing there.
pub struct StepLosses(Vec<Tensor<1>>);

impl StepLosses {
    /// The values of a step, cut off from the autodiff graph (they are only read).
    pub fn new(values: impl IntoIterator<Item = Tensor<1>>) -> Self {
        Self(values.into_iter().map(Tensor::inner).collect())
    }

    /// Reads the values back now.
    pub fn read(self) -> Vec<f64> {
        read_steps(vec![self]).remove(0)
    }
}

/// A number known on the host, as a step value on `device`.
pub fn step_value(value: f64, device: &Device) -> Tensor<1> {
    Tensor::from_floats([value as f32], &device.clone().inner())
}

/// Reads the values of many steps back in one transfer, step by step in order.
pub fn read_steps(steps: Vec<StepLosses>) -> Vec<Vec<f64>> {
    let widths: Vec<usize> = steps.iter().map(|s| s.0.len()).collect();
    let all: Vec<Tensor<1>> = steps.into_iter().flat_map(|s| s.0).collect();
    if all.is_empty() {
        return widths.iter().map(|_| Vec::new()).collect();
    }
    let values = Tensor::cat(all, 0)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    let mut values = values.into_iter().map(f64::from);
    widths
        .iter()
        .map(|&w| values.by_ref().take(w).collect())
        .collect()
}

/// Reads a 2-D float tensor back as rows.
pub fn rows(tensor: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, cols] = tensor.dims();
    let data = tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    data.chunks(cols.max(1)).map(<[f32]>::to_vec).collect()
}

/// Index of the largest value.
pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

/// Samples an index from logits at a temperature (0 or less: the most likely one).
pub fn sample_logits(logits: &[f32], temperature: f64, rng: &mut impl Rng) -> usize {
    if temperature <= 1e-6 {
        return argmax(logits);
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| (f64::from(l - max) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut pick = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        pick -= w;
        if pick <= 0.0 {
            return i;
        }
    }
    weights.len() - 1
}

/// Accuracy of argmax predictions: `logits` `[n, vocab]` against `targets` `[n]`.
pub fn accuracy(logits: Tensor<2>, targets: &[usize]) -> f64 {
    let predicted = rows(logits);
    let correct = predicted
        .iter()
        .zip(targets)
        .filter(|(row, t)| argmax(row) == **t)
        .count();
    correct as f64 / targets.len().max(1) as f64
}

/// Onset accuracy of argmax predictions: accuracy on the steps whose target starts a note
/// (see [`predictive`]); 0 when there is none.
pub fn onset_accuracy(logits: Tensor<2>, targets: &[usize]) -> f64 {
    let mut sum = crate::measures::predictive::PredictiveSum::default();
    for (row, &t) in rows(logits).iter().zip(targets) {
        sum.add_logits(row, t);
    }
    sum.finish().onset_accuracy
}

/// One labelled piece of music a model produced (shown on the dashboard after each epoch).
#[derive(Clone, Debug)]
pub struct Sample {
    /// What it is ("harmonization of bwv…", "reconstruction", "random code").
    pub label: String,
    /// The music.
    pub score: crate::music::Score,
}

/// What the training engine needs from a model under training: steps, validation, samples and
/// saving. Each model file implements it for its own model and data.
pub trait Session: Send {
    /// Names of the losses each step reports.
    fn loss_names(&self) -> Vec<String>;
    /// Batches per epoch.
    fn steps_per_epoch(&self) -> usize;
    /// Starts a new epoch: reshuffles with the run's random generator, and reseeds from it any
    /// generator of the session's own.
    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng);
    /// Trains on the next batch; returns the losses (read them with [`StepLosses::read`] or,
    /// many steps at once, [`read_steps`]).
    fn train_step(&mut self, step: usize) -> StepLosses;
    /// What a resumed session needs beyond its weights and optimiser state and the step count
    /// (numbers its training rules carry from step to step, e.g. C-RNN-GAN's last losses for
    /// the freezing rule); saved with each checkpoint and given back to [`Session::restore`].
    fn resume_state(&self) -> Vec<f64> {
        Vec::new()
    }
    /// Tells a resumed session how many steps the run has taken (for the schedules that count
    /// steps: β annealing, pretraining) and gives back its [`Session::resume_state`]. The
    /// session's own random draws restart in each [`Session::start_epoch`] and its weights and
    /// optimiser state come from [`Session::load`]: together, a run resumed at an epoch's end
    /// continues exactly as if it had not stopped.
    fn restore(&mut self, _global_step: usize, _state: &[f64]) {}
    /// Floating-point operations of one training step per example, counted over the matrix
    /// products ([`card::matmul_flops`]); `None` where not counted.
    fn flops_per_example(&self) -> Option<f64> {
        None
    }
    /// Held-out measures (loss, accuracy), name → value.
    fn validate(&mut self) -> Vec<(String, f64)>;
    /// A few generated samples.
    fn samples(&mut self, seed: u64) -> Vec<Sample>;
    /// The parameter tensors of its networks, for the model card (see [`card::layers`]).
    fn layers(&self) -> Vec<card::LayerShape>;
    /// Writes the parameters to `path`.
    fn save(&self, path: &std::path::Path) -> Result<(), String>;
    /// Reads parameters saved by [`Session::save`] (to resume a run).
    fn load(&mut self, path: &std::path::Path) -> Result<(), String>;
}

/// Binary cross-entropy of logits against a constant target, averaged (stable: through
/// log-sigmoid, never through a probability that could round to 0 or 1).
pub fn bce_with_logits(logits: Tensor<2>, target: f64) -> Tensor<1> {
    use burn::tensor::activation::log_sigmoid;
    (log_sigmoid(logits.clone()) * (-target) - log_sigmoid(-logits) * (1.0 - target)).mean()
}

/// D's loss in a GAN step: binary cross-entropy of the real bars' logits against `real_label`
/// and of the generated ones' against 0. Also returns D(x) and D(G(z)), the mean verdicts the
/// dashboard plots.
pub fn discriminator_loss(
    real_logits: Tensor<2>,
    fake_logits: Tensor<2>,
    real_label: f64,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    use burn::tensor::activation::sigmoid;
    let d_real = sigmoid(real_logits.clone().detach()).mean();
    let d_fake = sigmoid(fake_logits.clone().detach()).mean();
    let loss = bce_with_logits(real_logits, real_label) + bce_with_logits(fake_logits, 0.0);
    (loss, d_real, d_fake)
}

/// Names of what an adversarial session reports each step, in order (the dashboard and the
/// health checks read them by position).
pub fn adversarial_loss_names() -> Vec<String> {
    ["D loss", "G loss", "D(x)", "D(G(z))", "G gradient"]
        .map(String::from)
        .to_vec()
}

/// Minibatch standard deviation (Karras et al. 2018): the mean standard deviation of each
/// feature across the batch, as one extra column `[batch, 1]` for a discriminator, so that a
/// generator writing the same output for every noise vector is easy to catch.
pub fn minibatch_spread(features: Tensor<2>) -> Tensor<2> {
    let [batch, _] = features.dims();
    let centred = features.clone() - features.mean_dim(0);
    ((centred.clone() * centred).mean_dim(0) + 1e-8)
        .sqrt()
        .mean_dim(1)
        .repeat_dim(0, batch)
}

/// L2 norm of the gradient of one weight: a generator reports it for its output layer, the
/// layer nearest to D's verdict, so that a vanishing signal from D shows as a measured number.
pub fn grad_norm<const D: usize>(
    weight: &burn::module::Param<Tensor<D>>,
    gradients: &burn::tensor::Gradients,
) -> Tensor<1> {
    let weight = weight.val();
    match weight.grad(gradients) {
        Some(g) => (g.clone() * g).sum().sqrt(),
        None => step_value(0.0, &weight.device()),
    }
}

/// `module` with its parameters taking no gradient, for the other player's turn in an
/// adversarial step: G's loss runs through D, and without this the backward pass would also
/// compute D's weight gradients and throw them away (a weight gradient costs a matrix product
/// per layer, as much as the input gradient G needs). The parameters' values are shared, not
/// copied; drop the frozen copy before D's next optimiser step (see [`optimize`]).
pub fn frozen<M: burn::module::Module>(module: &M) -> M {
    module.clone().no_grad()
}

/// Replaces every parameter with an empty tensor: a placeholder module that shares no memory.
struct Hollow;

impl burn::module::ModuleMapper for Hollow {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        let device = param.val().device();
        burn::module::Param::from_tensor(Tensor::empty([0; D], &device))
    }
}

/// One optimiser step of `module` with the `gradients` of a backward pass, in place. The module
/// is moved into the step rather than cloned: a clone would keep a second reference to every
/// parameter's memory, and the CPU's Adam ([`optim`]) would then have to copy each parameter
/// before updating it.
pub fn optimize<M: burn::module::Module>(
    optimizer: &mut ModuleOptimizer,
    learning_rate: f64,
    module: &mut M,
    gradients: burn::tensor::Gradients,
) {
    let grads = burn::optim::GradientsParams::from_grads(gradients, module);
    let placeholder = module.clone().map(&mut Hollow);
    let owned = std::mem::replace(module, placeholder);
    *module = optimizer.step(learning_rate, owned, grads);
}

/// Saves an adversarial pair with their optimisers: the generator at `path`, the
/// discriminator beside it (see [`save_with_optimizer`]).
pub fn save_pair<G: burn::module::Module, D: burn::module::Module>(
    (g, g_optimizer): (&G, &ModuleOptimizer),
    (d, d_optimizer): (&D, &ModuleOptimizer),
    path: &std::path::Path,
) -> Result<(), String> {
    save_with_optimizer(g, g_optimizer, path)?;
    save_with_optimizer(d, d_optimizer, &path.with_extension("d.bpk"))
}

/// Loads a pair saved by [`save_pair`], optimisers included.
pub fn load_pair<G: burn::module::Module, D: burn::module::Module>(
    (g, g_optimizer): (G, &mut ModuleOptimizer),
    (d, d_optimizer): (D, &mut ModuleOptimizer),
    path: &std::path::Path,
) -> Result<(G, D), String> {
    Ok((
        load_with_optimizer(g, g_optimizer, path)?,
        load_with_optimizer(d, d_optimizer, &path.with_extension("d.bpk"))?,
    ))
}

/// Saves a model and its optimiser's state (Adam's moment estimates, beside it as
/// `<name>.adam.bpk`), so that a resumed run goes on as if it had not stopped.
pub fn save_with_optimizer<M: burn::module::Module>(
    module: &M,
    optimizer: &ModuleOptimizer,
    path: &std::path::Path,
) -> Result<(), String> {
    save_module(module, path)?;
    let state = path.with_extension("adam.bpk");
    optimizer
        .save(&state)
        .map_err(|e| format!("{}: cannot save the optimiser: {e}", state.display()))
}

/// Loads what [`save_with_optimizer`] wrote. A checkpoint without optimiser state (written by
/// an older version) loads with a fresh optimiser. The state matches the parameters by id,
/// which burn keeps in the checkpoint.
pub fn load_with_optimizer<M: burn::module::Module>(
    module: M,
    optimizer: &mut ModuleOptimizer,
    path: &std::path::Path,
) -> Result<M, String> {
    let module = load_module(module, path)?;
    let state = path.with_extension("adam.bpk");
    if state.is_file() {
        let current = std::mem::replace(optimizer, optim::adam(0.9));
        *optimizer = current
            .load(&state)
            .map_err(|e| format!("{}: cannot read the optimiser: {e}", state.display()))?;
    }
    Ok(module)
}

/// Writes a module's parameters to a burnpack file.
pub fn save_module<M: burn::module::Module>(
    module: &M,
    path: &std::path::Path,
) -> Result<(), String> {
    module
        .clone()
        .into_record()
        .save(path)
        .map_err(|e| format!("{}: cannot save the model: {e}", path.display()))
}

/// True when the burnpack file at `path` stores any float tensor in half precision (reads the
/// file's header only: the tensors' bytes stay on disk).
pub fn is_half_precision(path: &std::path::Path) -> bool {
    burn_pack::Reader::from_file(path)
        .and_then(burn_pack::Reader::into_tensors)
        .is_ok_and(|tensors| tensors.iter().any(|t| t.dtype == burn::tensor::DType::F16))
}

/// Reads parameters from a burnpack file into a freshly built module.
pub fn load_module<M: burn::module::Module>(
    module: M,
    path: &std::path::Path,
) -> Result<M, String> {
    let record = burn::store::ModuleRecord::load(path)
        .map_err(|e| format!("{}: cannot read the model: {e}", path.display()))?;
    // Shipped runs store half-precision floats: cast them to the module's. Only those: the
    // cast reads each parameter's dtype, which initialises it first (drawing from burn's
    // random generator), and a full-precision record needs no cast.
    let record = if is_half_precision(path) {
        record.cast_to_module_dtype()
    } else {
        record
    };
    module.try_load_record(record).map_err(|e| {
        format!(
            "{}: the saved parameters do not fit this model: {e}",
            path.display()
        )
    })
}

/// Holds burn's process-wide random generator for a unit test that draws from it (initial
/// weights, dropout masks), so that tests running in parallel do not interleave their draws.
#[cfg(test)]
pub(crate) fn test_rng() -> std::sync::MutexGuard<'static, ()> {
    crate::training::RNG_GUARD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Shuffled batches over a set of example indices.
#[derive(Clone, Debug, Default)]
pub struct Batches {
    order: Vec<usize>,
    batch: usize,
}

impl Batches {
    /// Batches of `batch` examples over `indices`.
    pub fn new(indices: Vec<usize>, batch: usize) -> Self {
        Self {
            order: indices,
            batch: batch.max(1),
        }
    }
    /// Number of batches (the last one may be short).
    pub fn len(&self) -> usize {
        self.order.len().div_ceil(self.batch)
    }
    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
    /// Reshuffles.
    pub fn shuffle(&mut self, rng: &mut impl Rng) {
        use rand::seq::SliceRandom;
        self.order.shuffle(rng);
    }
    /// Every example index, in the current order.
    pub fn indices(&self) -> &[usize] {
        &self.order
    }

    /// The example indices of batch `i` (wrapping around).
    pub fn get(&self, i: usize) -> &[usize] {
        if self.order.is_empty() {
            return &[];
        }
        let start = (i % self.len()) * self.batch;
        &self.order[start..(start + self.batch).min(self.order.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn every_default_lies_in_its_range_and_out_of_range_values_are_refused() {
        for kind in ModelKind::ALL {
            let config = (kind.info().default_config)();
            assert_eq!(config.check(), Ok(()), "{}", kind.id());
        }
        let mut config = (ModelKind::Minibach.info().default_config)();
        let error = config.set("dropout", "1.0").expect_err("refused");
        assert!(
            error.contains("dropout") && error.contains("0.95"),
            "{error}"
        );
        assert_eq!(config.check(), Ok(()), "the old value stays");
        assert!(config.set("dropout", "NaN").is_err());
        assert!(config.set("hidden", "0").is_err());
        assert!(config.set("hidden", "64").is_ok());
    }

    #[test]
    fn dropout_keeps_the_expected_share_scaled_and_repeats_from_the_seed() {
        let _rng = crate::models::test_rng();
        let layer = burn::nn::DropoutConfig::new(0.25).init();
        let device = Device::flex().autodiff();
        let draw = || {
            device.seed(9);
            values(dropout(&layer, Tensor::<2>::ones([200, 100], &device)))
        };
        let first = draw();
        let kept = first.iter().filter(|&&v| v != 0.0).count() as f64 / first.len() as f64;
        assert!((kept - 0.75).abs() < 0.02, "kept {kept}");
        assert!(
            first
                .iter()
                .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6)
        );
        assert_eq!(first, draw(), "the same device seed gives the same mask");
        // Without autodiff (inference, validation) it is the identity.
        let plain = Tensor::<2>::ones([4, 4], &Device::flex());
        assert!(values(dropout(&layer, plain)).iter().all(|&v| v == 1.0));
    }
}
