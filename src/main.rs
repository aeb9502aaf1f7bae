//! The `muselab` binary: the GUI without a subcommand, the headless engine with one.

use clap::Parser;

use muselab::cli::{Cli, run};

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let code = match cli.command {
        Some(command) => run(command, cli.device),
        None => muselab::app::run_gui(cli.device, cli.file, cli.start_training),
    };
    std::process::exit(code);
}
