//! SIGTERM / SIGINT handling: the first signal asks the tool to stop reading, drain what is
//! in flight, commit and exit 0 (DESIGN.md §4); a second one exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

/// A shared flag set when the tool has been asked to stop.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    requested: Arc<AtomicBool>,
}

impl Shutdown {
    /// Registers the handlers for SIGTERM and SIGINT.
    pub fn install() -> std::io::Result<Shutdown> {
        let shutdown = Shutdown::default();
        for signal in [SIGTERM, SIGINT] {
            // Order matters: the conditional exit is checked before the flag is set, so the
            // first signal only sets the flag and the second one exits (status 130, like a shell).
            signal_hook::flag::register_conditional_shutdown(
                signal,
                130,
                shutdown.requested.clone(),
            )?;
            signal_hook::flag::register(signal, shutdown.requested.clone())?;
        }
        Ok(shutdown)
    }

    /// True once a stop was asked for.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    /// Asks for a stop from inside the program (end of input, a fatal error in another thread).
    pub fn request(&self) {
        self.requested.store(true, Ordering::Relaxed);
    }
}
