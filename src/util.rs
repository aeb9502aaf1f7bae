//! Small helpers shared by several modules.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`, so that a
/// crash or a full disk never leaves a half-written file where a good one was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let tmp = path.with_file_name(format!(".{file_name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The message of a panic payload (what `panic!` was given), for an error line.
pub fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "an internal error".into())
}

/// Waits for `thread` to end, at most `limit`; returns false (and leaves it running, detached)
/// when it does not end in time. Closing the app must return promptly whatever a worker is in
/// the middle of (a long GPU kernel compilation, encoding a corpus); what such a thread writes
/// is written atomically, so ending the process under it loses nothing saved.
pub fn join_within(thread: std::thread::JoinHandle<()>, limit: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    while !thread.is_finished() {
        if started.elapsed() >= limit {
            log::warn!(
                "the {} thread did not end within {limit:?}; leaving it",
                thread.thread().name().unwrap_or("worker")
            );
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = thread.join();
    true
}

/// A thread that answers requests one at a time with some state of its own (a loaded model),
/// off the UI thread. A panic while serving becomes the reply `on_panic` makes (after it resets
/// the state), and the thread serves on; dropping the handle ends the thread.
pub struct RequestWorker<Q, R> {
    requests: Option<std::sync::mpsc::Sender<Q>>,
    /// Replies, oldest first.
    pub replies: std::sync::mpsc::Receiver<R>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<Q: Send + 'static, R: Send + 'static> RequestWorker<Q, R> {
    /// Starts the thread `name` with `state`; `serve` answers each request, `notify` wakes
    /// the UI after each reply.
    pub fn start<S: Send + 'static>(
        name: &str,
        mut state: S,
        mut serve: impl FnMut(&mut S, Q) -> R + Send + 'static,
        on_panic: impl Fn(&mut S, String) -> R + Send + 'static,
        notify: impl Fn() + Send + 'static,
    ) -> Self {
        let (requests, inbox) = std::sync::mpsc::channel::<Q>();
        let (outbox, replies) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for request in inbox {
                    let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        serve(&mut state, request)
                    }))
                    .unwrap_or_else(|panic| on_panic(&mut state, panic_text(&panic)));
                    if outbox.send(reply).is_err() {
                        break;
                    }
                    notify();
                }
            })
            .ok();
        Self {
            requests: Some(requests),
            replies,
            thread,
        }
    }

    /// Sends a request (ignored if the thread has ended).
    pub fn send(&self, request: Q) {
        if let Some(requests) = &self.requests {
            let _ = requests.send(request);
        }
    }
}

impl<Q, R> Drop for RequestWorker<Q, R> {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            join_within(thread, std::time::Duration::from_millis(500));
        }
    }
}
