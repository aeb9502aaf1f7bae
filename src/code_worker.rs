//! An autoencoder's decoder off the UI thread, for the Code units view: on loading a run it
//! decodes each code unit alone (what the unit stands for), then decodes any combination of
//! units the user switches on.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};

use crate::data::PitchRange;
use crate::models::autoencoder::{Autoencoder, STEPS};
use crate::models::{ModelConfig, Vocabulary, argmax, rows};
use crate::training::checkpoint;

/// What the view asks.
#[derive(Clone, Debug)]
pub enum CodeRequest {
    /// Load a run and decode each of its code units alone.
    Load(PathBuf),
    /// Decode a code (one value per unit) with the loaded run.
    Decode(Vec<f32>),
}

/// What the worker answers.
#[derive(Clone, Debug)]
pub enum CodeReply {
    /// A run is loaded: its range, whether its code is sparse (sigmoid), and each unit's
    /// pattern (the melody decoded from that unit alone switched on).
    Loaded {
        /// The run.
        run: PathBuf,
        /// Its melody range.
        range: PitchRange,
        /// A sigmoid (sparse) code: units switch between 0 and 1; else tanh, −1 to 1.
        sparse: bool,
        /// Per unit, its decoded melody.
        patterns: Vec<Vec<usize>>,
    },
    /// The melody of a code.
    Melody(Vec<usize>),
    /// Something went wrong (the worker serves on).
    Error(String),
}

/// The view's handle on the worker; dropping it ends the thread.
pub type CodeWorker = crate::util::RequestWorker<CodeRequest, CodeReply>;

/// Starts the worker; `notify` wakes the UI after each reply.
pub fn start(notify: impl Fn() + Send + 'static) -> CodeWorker {
    let device = Device::flex();
    CodeWorker::start(
        "code-units",
        None,
        move |loaded, request| serve(request, loaded, &device),
        |loaded, panic| {
            *loaded = None;
            CodeReply::Error(format!(
                "the decoder stopped by an internal error: {panic}; choose the run again"
            ))
        },
        notify,
    )
}

/// Decodes codes `[count][units]` into the most likely melodies.
fn decode(
    model: &Autoencoder,
    range: &PitchRange,
    codes: &[Vec<f32>],
    device: &Device,
) -> Vec<Vec<usize>> {
    let units = codes.first().map_or(0, Vec::len);
    let code = Tensor::<2>::from_data(
        TensorData::new(codes.concat(), [codes.len(), units]),
        device,
    );
    let tokens: Vec<usize> = rows(model.decode(code, range.vocab_size()))
        .iter()
        .map(|r| argmax(r))
        .collect();
    tokens.chunks(STEPS).map(<[usize]>::to_vec).collect()
}

fn serve(
    request: CodeRequest,
    loaded: &mut Option<(Autoencoder, PitchRange)>,
    device: &Device,
) -> CodeReply {
    match request {
        CodeRequest::Load(run) => match load(&run, device) {
            Ok((model, range, sparse, units)) => {
                let (off, on) = if sparse { (0.0, 1.0) } else { (-1.0, 1.0) };
                let codes: Vec<Vec<f32>> = (0..units)
                    .map(|j| (0..units).map(|i| if i == j { on } else { off }).collect())
                    .collect();
                let patterns = codes
                    .chunks(128)
                    .flat_map(|chunk| decode(&model, &range, chunk, device))
                    .collect();
                *loaded = Some((model, range));
                CodeReply::Loaded {
                    run,
                    range,
                    sparse,
                    patterns,
                }
            }
            Err(e) => CodeReply::Error(e),
        },
        CodeRequest::Decode(code) => match loaded.as_ref() {
            Some((model, range)) => {
                CodeReply::Melody(decode(model, range, &[code], device).remove(0))
            }
            None => CodeReply::Error("choose an autoencoder run first".into()),
        },
    }
}

/// Loads an autoencoder checkpoint: the network, its range, whether its code is sparse and
/// its code units.
fn load(run: &Path, device: &Device) -> Result<(Autoencoder, PitchRange, bool, usize), String> {
    let (config, _) = checkpoint::read(run, None).map_err(|e| e.to_string())?;
    config.check()?;
    let (ModelConfig::Autoencoder(c), Vocabulary::Melody(range)) =
        (config.hyperparameters, config.vocabulary)
    else {
        return Err(format!(
            "{}: a {} run has no code units; choose a sparse-autoencoder (or autoencoder) run",
            run.display(),
            config.model.id()
        ));
    };
    let model = crate::models::load_module(
        Autoencoder::new(&c, range.vocab_size(), device),
        &run.join(checkpoint::MODEL_FILE),
    )?;
    Ok((model, range, c.sparsity_weight > 0.0, c.code.max(1)))
}
