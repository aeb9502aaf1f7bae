//! VRAE (Fabius & van Amersfoort 2015), the first recurrent variational autoencoder, as its
//! authors built it: a plain tanh RNN reads the melody backwards, its final state gives the
//! mean and log-variance of z; the decoder's state starts at tanh(W z + b) and the decoder runs
//! free — each step's input is its own previous output distribution, never the true token —
//! so everything it writes must come through z. A small, fixed KL weight. With a 2-D latent
//! (the default) it gets the latent map like the VAE.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{softmax, tanh};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;

use super::latent::{KlSchedule, LatentModel, reparameterise, vae_losses};
use super::rnn_vae::one_hot_3d;
use super::{Batches, Sample, Session, rows, sample_logits, scalar, targets};
use crate::data::{MelodyWindows, PitchRange};

/// The written part of the model card (the layers come from the module).
pub const CARD: super::card::CardText = super::card::CardText {
    formula: "Variational(Autoencoder(RNN, RNN)): tanh RNN over the reversed melody → z → free-running tanh RNN",
    reference: "Fabius & van Amersfoort, \"Variational Recurrent Auto-Encoders\" (ICLR workshop, 2015)",
    deviations: &[
        (
            "{rest, hold, pitch} tokens of 2-bar melodies (the authors: piano rolls of 88 pitches, 50 steps)",
            "the encoding every melody model here shares, measured on the same held-out steps",
        ),
        (
            "the decoder's input is its previous output distribution (softmax), its output layer a softmax over tokens",
            "the authors fed back the sigmoid outputs of their piano roll; one token per step is a softmax",
        ),
        (
            "Adam (the authors: Adam too, with a β of 0.05 to 0.001 decay settings of their own)",
            "the optimiser every model here uses",
        ),
    ],
};

/// This model's entry in the registry ([`super::ModelKind::info`]).
pub const INFO: super::ModelInfo = super::ModelInfo {
    id: "vrae",
    title: "VRAE (Fabius & van Amersfoort)",
    description: "The first recurrent VAE: plain tanh RNNs, a free-running decoder, a 2-D latent you can explore on the map.",
    default_corpus: "celtic",
    learning_rate: 2e-3,
    family: super::Family::Latent,
    card: CARD,
    default_config: || super::ModelConfig::Vrae(VraeConfig::default()),
    session: build_session,
    load,
};

crate::hyperparameters! {
    /// Hyperparameters of VRAE.
    pub struct VraeConfig {
        /// Units of the encoder and of the decoder RNN (the authors: 500).
        pub hidden: usize = 256; 1..=2048,
        /// Latent dimensions (2 puts it on the latent map; the authors used 2 and 20).
        pub latent: usize = 2; 1..=256,
        /// Bars per melody, 16 steps each.
        pub bars: usize = 2; 1..=8,
        /// Weight of the KL term, fixed (small: the decoder needs z to write anything).
        pub kl_weight: f64 = 0.1; 0.0..=10.0,
        /// Step between two training windows, in 16th notes.
        pub stride: usize = 16; 1..=64,
    }
}

impl VraeConfig {
    /// Steps per melody.
    pub fn steps(&self) -> usize {
        self.bars.clamp(1, 8) * 16
    }
}

/// Builds this model's training session (the registry's `session`).
fn build_session(
    config: &super::ModelConfig,
    args: &super::SessionArgs<'_>,
) -> Result<(Box<dyn Session>, super::Vocabulary), String> {
    let super::ModelConfig::Vrae(c) = config else {
        return Err(super::wrong_config(INFO.id));
    };
    let session = VraeSession::new(c.clone(), args)?;
    let vocabulary = super::Vocabulary::Melody(session.data.range);
    Ok((Box::new(session), vocabulary))
}

/// The network.
#[derive(Module, Debug)]
pub struct Vrae {
    encoder_input: Linear,
    encoder_recurrent: Linear,
    mean: Linear,
    log_var: Linear,
    initial_state: Linear,
    decoder_input: Linear,
    decoder_recurrent: Linear,
    output: Linear,
}

impl Vrae {
    /// Builds the network for melodies over `vocab` tokens.
    pub fn new(config: &VraeConfig, vocab: usize, device: &Device) -> Self {
        let (hidden, latent) = (config.hidden.max(1), config.latent.max(1));
        let linear = |a, b| LinearConfig::new(a, b).init(device);
        let recurrent = |n| LinearConfig::new(n, n).with_bias(false).init(device);
        Self {
            encoder_input: linear(vocab, hidden),
            encoder_recurrent: recurrent(hidden),
            mean: linear(hidden, latent),
            log_var: linear(hidden, latent),
            initial_state: linear(latent, hidden),
            decoder_input: linear(vocab, hidden),
            decoder_recurrent: recurrent(hidden),
            output: linear(hidden, vocab),
        }
    }

    /// The encoder over one-hot melodies `[batch, steps, vocab]`, last step first: the mean
    /// and log-variance of q(z | melody), `[batch, latent]` each.
    pub fn encode(&self, melodies: Tensor<3>) -> (Tensor<2>, Tensor<2>) {
        let [batch, steps, vocab] = melodies.dims();
        let hidden = self.encoder_recurrent.weight.val().dims()[0];
        let mut h = Tensor::<2>::zeros([batch, hidden], &melodies.device());
        for t in (0..steps).rev() {
            // The one-hot input needs no gradient, so slicing it per step costs nothing.
            let x = melodies
                .clone()
                .slice([0..batch, t..t + 1, 0..vocab])
                .reshape([batch, vocab]);
            h = tanh(self.encoder_input.forward(x) + self.encoder_recurrent.forward(h));
        }
        (self.mean.forward(h.clone()), self.log_var.forward(h))
    }

    /// The free-running decoder from z `[batch, latent]`: logits `[batch * steps, vocab]`
    /// (rows in (melody, step) order); each step reads the previous step's softmax.
    pub fn decode(&self, z: Tensor<2>, steps: usize) -> Tensor<2> {
        let [batch, _] = z.dims();
        let vocab = self.output.weight.val().dims()[1];
        let mut h = tanh(self.initial_state.forward(z));
        let mut previous = Tensor::<2>::zeros([batch, vocab], &h.device());
        let mut out = Vec::with_capacity(steps);
        for _ in 0..steps {
            h = tanh(self.decoder_input.forward(previous) + self.decoder_recurrent.forward(h));
            let logits = self.output.forward(h.clone());
            previous = softmax(logits.clone(), 1);
            out.push(logits);
        }
        Tensor::stack::<3>(out, 1).reshape([batch * steps, vocab])
    }
}

/// A trained VRAE.
pub struct VraeModel {
    model: Vrae,
    config: VraeConfig,
    range: PitchRange,
}

impl LatentModel for VraeModel {
    fn latent_size(&self) -> usize {
        self.config.latent
    }
    fn steps(&self) -> usize {
        self.config.steps()
    }
    fn range(&self) -> PitchRange {
        self.range
    }
    fn encode_mean(&self, melodies: &[&[usize]], device: &Device) -> Vec<Vec<f32>> {
        let vocab = self.range.vocab_size();
        rows(self.model.encode(one_hot_3d(melodies, vocab, device)).0)
    }
    /// Free-running, as the decoder always is (it never reads the true tokens).
    fn reconstruction_logits(&self, melodies: &[&[usize]], device: &Device) -> Vec<Vec<f32>> {
        let vocab = self.range.vocab_size();
        let (mean, _) = self.model.encode(one_hot_3d(melodies, vocab, device));
        rows(self.model.decode(mean, self.steps()))
    }
    fn decode(
        &self,
        z: &[Vec<f32>],
        temperature: f64,
        seed: u64,
        device: &Device,
    ) -> Vec<Vec<usize>> {
        let latent = self.config.latent;
        let data: Vec<f32> = z
            .iter()
            .flat_map(|v| v.iter().copied().chain(std::iter::repeat(0.0)).take(latent))
            .collect();
        let z = Tensor::<2>::from_data(TensorData::new(data, [z.len(), latent]), device);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let tokens: Vec<usize> = rows(self.model.decode(z, self.steps()))
            .iter()
            .map(|r| sample_logits(r, temperature, &mut rng))
            .collect();
        tokens.chunks(self.steps()).map(<[usize]>::to_vec).collect()
    }
}

/// The registry's `load`.
fn load(
    config: &super::ModelConfig,
    vocabulary: super::Vocabulary,
    path: &std::path::Path,
    device: &Device,
) -> Result<Box<dyn super::Trained>, String> {
    let (super::ModelConfig::Vrae(c), super::Vocabulary::Melody(range)) = (config, vocabulary)
    else {
        return Err(super::missing_vocabulary(path));
    };
    Ok(Box::new(VraeModel {
        model: super::load_module(Vrae::new(c, range.vocab_size(), device), path)?,
        config: c.clone(),
        range,
    }))
}

/// VRAE under training.
pub struct VraeSession {
    model: Vrae,
    optimizer: burn::optim::ModuleOptimizer,
    config: VraeConfig,
    data: MelodyWindows,
    train: Batches,
    validation: Vec<usize>,
    learning_rate: f64,
    device: Device,
    /// The baselines' onset accuracy on the validation windows.
    baselines: Vec<(String, f64)>,
}

impl VraeSession {
    /// Cuts the melodies into windows and builds a fresh network.
    pub fn new(config: VraeConfig, args: &super::SessionArgs<'_>) -> Result<Self, String> {
        let data = MelodyWindows::from_scores(
            args.scores,
            Some("Soprano"),
            config.steps(),
            config.stride,
            None,
        );
        if data.windows.is_empty() {
            return Err("no melody windows in this corpus".into());
        }
        let (train, mut validation) = data.split();
        if validation.is_empty() {
            validation = train.iter().copied().take(8).collect();
        }
        let baselines = crate::measures::ngram::window_baselines(
            &data.windows,
            data.range.vocab_size(),
            (&train, &validation),
            256,
        );
        Ok(Self {
            baselines,
            model: Vrae::new(&config, data.range.vocab_size(), args.device),
            optimizer: super::optim::adam(0.9),
            config,
            train: Batches::new(train, args.batch),
            validation,
            data,
            learning_rate: args.learning_rate,
            device: args.device.clone(),
        })
    }

    fn losses(
        &self,
        model: &Vrae,
        indices: &[usize],
        training: bool,
    ) -> (Tensor<1>, Tensor<1>, Tensor<1>, Tensor<2>, Vec<usize>) {
        let vocab = self.data.range.vocab_size();
        let steps = self.config.steps();
        let melodies: Vec<&[usize]> = indices
            .iter()
            .map(|&i| self.data.windows[i].as_slice())
            .collect();
        let (mean, log_var) = model.encode(one_hot_3d(&melodies, vocab, &self.device));
        let z = reparameterise(mean.clone(), log_var.clone(), training);
        let logits = model.decode(z, steps);
        let schedule = KlSchedule {
            max_beta: self.config.kl_weight,
            anneal_steps: 0,
            free_bits: 0.0,
        };
        let (total, reconstruction, kl) = vae_losses(
            logits.clone(),
            targets(&melodies, &self.device),
            steps,
            (mean, log_var),
            &schedule,
            0,
        );
        (total, reconstruction, kl, logits, melodies.concat())
    }
}

impl Session for VraeSession {
    fn loss_names(&self) -> Vec<String> {
        vec!["loss".into(), "reconstruction".into(), "KL".into()]
    }
    fn steps_per_epoch(&self) -> usize {
        self.train.len()
    }
    fn start_epoch(&mut self, rng: &mut rand::rngs::StdRng) {
        self.train.shuffle(rng);
    }
    fn train_step(&mut self, step: usize) -> super::StepLosses {
        let indices = self.train.get(step).to_vec();
        let (total, reconstruction, kl, _, _) = self.losses(&self.model, &indices, true);
        super::optimize(
            &mut self.optimizer,
            self.learning_rate,
            &mut self.model,
            total.backward(),
        );
        super::StepLosses::new([total, reconstruction, kl])
    }
    fn validate(&mut self) -> Vec<(String, f64)> {
        let model = self.model.valid();
        let indices: Vec<usize> = self.validation.iter().copied().take(256).collect();
        let (_, reconstruction, kl, logits, flat) = self.losses(&model, &indices, false);
        let mut out = vec![
            ("validation reconstruction".into(), scalar(reconstruction)),
            ("validation KL".into(), scalar(kl)),
            (
                "reconstruction accuracy".into(),
                super::accuracy(logits.clone(), &flat),
            ),
            (
                "onset accuracy".into(),
                super::onset_accuracy(logits, &flat),
            ),
        ];
        out.extend(self.baselines.iter().cloned());
        out
    }
    fn samples(&mut self, seed: u64) -> Vec<Sample> {
        let trained = VraeModel {
            model: self.model.valid(),
            config: self.config.clone(),
            range: self.data.range,
        };
        super::latent::standard_samples(&trained, &self.data, &self.validation, seed, &self.device)
    }
    fn flops_per_example(&self) -> Option<f64> {
        // The RNN layers and the output run once per step; the latent layers once.
        let steps = self.config.steps() as f64;
        let per_step = |name: &str| {
            if ["encoder", "decoder", "output"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                steps
            } else {
                1.0
            }
        };
        let layers = self.layers();
        Some(super::card::matmul_flops(&layers, per_step) * super::card::TRAINING_PASSES)
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
