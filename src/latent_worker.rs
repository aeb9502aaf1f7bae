//! The inference thread of the latent map: it owns its own copy of a latent model (loaded from a
//! checkpoint, which the trainer rewrites every epoch) and answers encode/decode requests, so the
//! map works while training goes on. Decoding renders the audio too, so a click is heard as soon
//! as its answer arrives. When requests pile up (dragging), only the newest decode is done.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use burn::tensor::Device;

use crate::audio::{SynthOptions, render};
use crate::corpus::list_midi_files;
use crate::data::encoding::{pick_track, voice_tokens};
use crate::inference::LoadedModel;
use crate::models::latent::{LatentModel, interpolate, melody_score, sequence_score};
use crate::music::key::{Mode, estimate_key};
use crate::music::{Score, read_midi_file};

/// A piece of the corpus on the map.
#[derive(Clone, Debug)]
pub struct MapDot {
    /// Piece name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Which corpus (index into the request's list).
    pub corpus: usize,
    /// Estimated mode.
    pub mode: Option<Mode>,
    /// Latent mean of its opening.
    pub code: Vec<f32>,
}

/// What the map asks.
#[derive(Clone, Debug)]
pub enum LatentRequest {
    /// Load a checkpoint.
    Load(PathBuf),
    /// Encode the opening of every piece of these folders (at most `limit` each).
    EncodeCorpora {
        /// Folders.
        dirs: Vec<PathBuf>,
        /// Pieces per folder.
        limit: usize,
    },
    /// Decode one point (and render it).
    Decode {
        /// Request number (answers carry it).
        id: u64,
        /// The latent point.
        z: Vec<f32>,
    },
    /// Decode many points (grid mode).
    Grid {
        /// Request number.
        id: u64,
        /// Latent points.
        points: Vec<Vec<f32>>,
    },
    /// Decode the path from `a` to `b`.
    Interpolate {
        /// Request number.
        id: u64,
        /// Start.
        a: Vec<f32>,
        /// End.
        b: Vec<f32>,
        /// Points on the path.
        steps: usize,
        /// Spherical instead of linear.
        spherical: bool,
    },
    /// Read a piece (a dot was clicked).
    OpenPiece(PathBuf),
    /// For tests of the worker's guard: the worker panics while serving it, as a bug deep in
    /// a model would (the models themselves refuse what could make them panic).
    #[doc(hidden)]
    InjectPanic,
}

/// What the thread answers.
#[derive(Clone, Debug)]
pub enum LatentReply {
    /// A checkpoint is loaded.
    Loaded {
        /// The checkpoint.
        run: PathBuf,
        /// Latent dimensions.
        latent: usize,
    },
    /// The corpus on the map.
    Corpus(Vec<MapDot>),
    /// One decoded point with its audio.
    Decoded {
        /// Request number.
        id: u64,
        /// The point.
        z: Vec<f32>,
        /// The melody.
        score: Score,
        /// Its audio.
        samples: Vec<f32>,
        /// Milliseconds for decode and synthesis.
        millis: f64,
    },
    /// Grid melodies, in the order asked.
    Grid {
        /// Request number.
        id: u64,
        /// Melodies as scores.
        scores: Vec<Score>,
    },
    /// An interpolation path.
    Path {
        /// Request number.
        id: u64,
        /// Each point's melody.
        steps: Vec<Score>,
        /// All of them one after the other.
        sequence: Score,
    },
    /// A piece that was opened.
    Piece(Score),
    /// Something failed.
    Error(String),
}

/// Handle on the thread.
pub struct LatentWorker {
    requests: Sender<LatentRequest>,
    /// Answers.
    pub replies: Receiver<LatentReply>,
    /// Requests sent and not yet answered or dropped as stale (the UI animates while above 0).
    pending: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl LatentWorker {
    /// Starts the thread; `notify` wakes the UI after each answer.
    pub fn start(notify: impl Fn() + Send + 'static) -> Self {
        let (requests, inbox) = channel();
        let (outbox, replies) = channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pending);
        let thread = std::thread::Builder::new()
            .name("latent-inference".into())
            .spawn(move || serve(&inbox, &outbox, &counter, &notify))
            .ok();
        Self {
            requests,
            replies,
            pending,
            thread,
        }
    }

    /// Sends a request.
    pub fn send(&self, request: LatentRequest) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.requests.send(request).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Requests not yet answered. Decodes and grids superseded by newer ones are dropped
    /// without an answer, so counting answers would never get back to 0 (the map then
    /// repainted every 30 ms for ever after a drag); the worker counts them down itself.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }
}

impl Drop for LatentWorker {
    fn drop(&mut self) {
        // Closing the channel ends the thread.
        let (dead, _) = channel();
        self.requests = dead;
        if let Some(thread) = self.thread.take() {
            // It ends after the request under way (encoding a corpus may take seconds).
            crate::util::join_within(thread, std::time::Duration::from_millis(500));
        }
    }
}

/// Collects what is waiting, keeping only the newest Decode and the newest Grid; also returns
/// how many were dropped.
fn drain(first: LatentRequest, inbox: &Receiver<LatentRequest>) -> (Vec<LatentRequest>, usize) {
    let mut queue = vec![first];
    queue.extend(inbox.try_iter());
    let waiting = queue.len();
    let last_decode = queue
        .iter()
        .rposition(|r| matches!(r, LatentRequest::Decode { .. }));
    let last_grid = queue
        .iter()
        .rposition(|r| matches!(r, LatentRequest::Grid { .. }));
    let kept = queue
        .into_iter()
        .enumerate()
        .filter(|(i, r)| match r {
            LatentRequest::Decode { .. } => Some(*i) == last_decode,
            LatentRequest::Grid { .. } => Some(*i) == last_grid,
            _ => true,
        })
        .map(|(_, r)| r)
        .collect::<Vec<_>>();
    let dropped = waiting - kept.len();
    (kept, dropped)
}

/// Decodes one point and renders its audio: the work behind a click on the map.
pub fn decode_and_render(model: &dyn LatentModel, z: &[f32], device: &Device) -> (Score, Vec<f32>) {
    let tokens = model.decode(&[z.to_vec()], 0.0, 0, device).remove(0);
    let score = melody_score("latent point", &tokens, &model.range());
    let samples = render(&score, &SynthOptions::default());
    (score, samples)
}

/// The opening window of each piece of a folder, with names, paths and modes.
fn corpus_openings(
    dir: &std::path::Path,
    limit: usize,
    model: &dyn LatentModel,
) -> Vec<(String, PathBuf, Option<Mode>, Vec<usize>)> {
    let files = list_midi_files(dir).unwrap_or_default();
    files
        .iter()
        .take(limit)
        .filter_map(|path| {
            let score = read_midi_file(path).ok()?;
            let grid = score.to_grid(4);
            let track = pick_track(&grid.tracks, Some("Soprano"))?;
            let tokens = voice_tokens(&track.notes, 0, model.steps(), &model.range());
            Some((
                score.name.clone(),
                path.clone(),
                estimate_key(&score).map(|k| k.mode),
                tokens,
            ))
        })
        .collect()
}

fn serve(
    inbox: &Receiver<LatentRequest>,
    outbox: &Sender<LatentReply>,
    pending: &AtomicUsize,
    notify: &dyn Fn(),
) {
    let device = Device::flex();
    let mut model: Option<LoadedModel> = None;
    while let Ok(first) = inbox.recv() {
        let (queue, dropped) = drain(first, inbox);
        if dropped > 0 {
            pending.fetch_sub(dropped, Ordering::SeqCst);
        }
        for request in queue {
            // A panic while serving one request becomes an error reply; the worker lives on
            // (with no model loaded, since a panic may have left it half-updated).
            let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                handle(request, &mut model, &device)
            }))
            .unwrap_or_else(|panic| {
                model = None;
                LatentReply::Error(format!(
                    "the latent map stopped by an internal error: {}; load the checkpoint again",
                    crate::util::panic_text(&panic)
                ))
            });
            // Counted down before the reply is sent, so that a UI that has read every reply
            // never sees this request as pending.
            pending.fetch_sub(1, Ordering::SeqCst);
            if outbox.send(reply).is_err() {
                return;
            }
            notify();
        }
    }
}

fn handle(request: LatentRequest, model: &mut Option<LoadedModel>, device: &Device) -> LatentReply {
    if matches!(request, LatentRequest::InjectPanic) {
        panic!("injected for the test");
    }
    if let LatentRequest::Load(run) = &request {
        return match LoadedModel::load(run, None, device) {
            Ok((loaded, config)) => match loaded.latent().map(LatentModel::latent_size) {
                Some(latent) => {
                    *model = Some(loaded);
                    LatentReply::Loaded {
                        run: run.clone(),
                        latent,
                    }
                }
                None => LatentReply::Error(format!(
                    "{}: a {} checkpoint has no latent space; train a vae or rnn-vae",
                    run.display(),
                    config.model.id()
                )),
            },
            Err(e) => LatentReply::Error(e),
        };
    }
    if let LatentRequest::OpenPiece(path) = &request {
        return match read_midi_file(path) {
            Ok(score) => LatentReply::Piece(score),
            Err(e) => LatentReply::Error(e.to_string()),
        };
    }
    let Some(latent) = model.as_ref().and_then(LoadedModel::latent) else {
        return LatentReply::Error("load a vae or rnn-vae checkpoint first".into());
    };
    match request {
        LatentRequest::EncodeCorpora { dirs, limit } => {
            let mut dots = Vec::new();
            for (corpus, dir) in dirs.iter().enumerate() {
                let openings = corpus_openings(dir, limit, latent);
                for chunk in openings.chunks(256) {
                    let refs: Vec<&[usize]> = chunk.iter().map(|o| o.3.as_slice()).collect();
                    let codes = latent.encode_mean(&refs, device);
                    for ((name, path, mode, _), code) in chunk.iter().zip(codes) {
                        dots.push(MapDot {
                            name: name.clone(),
                            path: path.clone(),
                            corpus,
                            mode: *mode,
                            code,
                        });
                    }
                }
            }
            LatentReply::Corpus(dots)
        }
        LatentRequest::Decode { id, z } => {
            let started = std::time::Instant::now();
            let (score, samples) = decode_and_render(latent, &z, device);
            LatentReply::Decoded {
                id,
                z,
                score,
                samples,
                millis: started.elapsed().as_secs_f64() * 1e3,
            }
        }
        LatentRequest::Grid { id, points } => {
            let range = latent.range();
            let scores = latent
                .decode(&points, 0.0, 0, device)
                .iter()
                .map(|t| melody_score("cell", t, &range))
                .collect();
            LatentReply::Grid { id, scores }
        }
        LatentRequest::Interpolate {
            id,
            a,
            b,
            steps,
            spherical,
        } => {
            let range = latent.range();
            let path = interpolate(&a, &b, steps, spherical);
            let melodies = latent.decode(&path, 0.0, 0, device);
            LatentReply::Path {
                id,
                steps: melodies
                    .iter()
                    .map(|m| melody_score("step", m, &range))
                    .collect(),
                sequence: sequence_score("interpolation", &melodies, &range),
            }
        }
        LatentRequest::Load(_) | LatentRequest::OpenPiece(_) | LatentRequest::InjectPanic => {
            LatentReply::Error("request handled above".into())
        }
    }
}
