//! The `muselab` binary: the GUI without a subcommand, the headless engine with one.

use clap::Parser;

use muselab::cli::{Cli, run};

fn main() {
    // A reader that closes the pipe early (`muselab runs | head`) ends the program quietly, as
    // for other command-line tools, instead of a panic at the next println.
    #[cfg(target_os = "linux")]
    // SAFETY: restoring the default action of one signal at start, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let sound = cli.sound();
    let code = match cli.command {
        Some(command) => run(command, cli.device, sound),
        None => muselab::app::run_gui(muselab::app::GuiOptions {
            device: cli.device,
            open: cli.file,
            start_training: cli.start_training,
            latent_map: cli.latent_map,
            gibbs: cli.gibbs,
            anticipation: cli.anticipation,
            pins: cli.pins,
            map_grid: cli.map_grid,
            map_demo: cli.map_demo,
            compare: cli.compare,
            sound,
        }),
    };
    std::process::exit(code);
}
