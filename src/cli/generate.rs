//! `--generate man|complete-bash|complete-zsh|complete-fish`: every tool prints its own man page
//! or shell completions, built from its clap definition (as ripgrep does), so that the committed
//! files in `man/` and `completions/` can be regenerated and checked for staleness
//! (`scripts/gen-docs`, `tests/docs.rs`).

use std::ffi::OsString;
use std::io::Write;

use clap::{CommandFactory, FromArgMatches, ValueEnum};

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// A roff man page.
    Man,
    CompleteBash,
    CompleteZsh,
    CompleteFish,
}

/// Parses the tool's command line like `T::parse()`, except that `--generate KIND` as the only
/// argument prints the man page or completions and exits. The flag is hidden from `--help`:
/// it is for packagers and for this repository's docs, not for daily use.
pub fn parse<T: CommandFactory + FromArgMatches>() -> T {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let [_, flag, kind] = args.as_slice()
        && flag == "--generate"
    {
        let code = match kind
            .to_str()
            .and_then(|k| Generate::from_str(k, false).ok())
        {
            Some(kind) => {
                let mut out = Vec::new();
                generate(T::command(), kind, &mut out);
                match std::io::stdout().write_all(&out) {
                    Ok(()) => 0,
                    Err(_) => 1,
                }
            }
            None => {
                eprintln!(
                    "error: --generate takes one of: man, complete-bash, complete-zsh, complete-fish"
                );
                i32::from(super::EXIT_USAGE)
            }
        };
        std::process::exit(code);
    }
    let matches = T::command().get_matches();
    T::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Writes the man page or completion script of `command` into `out`.
pub fn generate(mut command: clap::Command, kind: Generate, out: &mut Vec<u8>) {
    let name = command.get_name().to_string();
    match kind {
        Generate::Man => clap_mangen::Man::new(command)
            .render(out)
            .expect("rendering to memory cannot fail"),
        Generate::CompleteBash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut command, name, out)
        }
        Generate::CompleteZsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut command, name, out)
        }
        Generate::CompleteFish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut command, name, out)
        }
    }
}
