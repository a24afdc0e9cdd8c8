//! The `contact-vault` binary: reads the command line (`cli.rs`), sets up logging and runs the
//! command; `serve` (the default) starts the server.

use clap::Parser;
use contact_vault::cli::{Cli, run};
use contact_vault::config::log_format_from_env;
use contact_vault::telemetry;

/// mimalloc, also in place of the C library's `malloc` (the `override` feature) for SQLite:
/// glibc's allocator was a quarter of a list page's CPU (arena locks shared by the workers and
/// SQLite's threads) and kept big freed buffers, such as Argon2's 19 MiB, resident; mimalloc's
/// per-thread heaps need no arena lock, and it returns freed memory to the system (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `enum mi_option_e` (libmimalloc-sys names only some
/// of the options; the unit test below checks this one).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the system at once. mimalloc 3 waits a second by default: under the
/// overload test (tests/durability) that let the server peak past 200 MB, against ~160 MB with
/// no delay and no measurable cost on the list page (docs/BENCHMARKS.md).
fn purge_freed_memory_at_once() {
    // SAFETY: sets one of mimalloc's run-time options; any value is valid for it.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    purge_freed_memory_at_once();
    let cli = Cli::parse();
    let _ = dotenvy::dotenv();
    let format = match log_format_from_env() {
        Ok(format) => format,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    telemetry::init(format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // mimalloc 3's default purge delay is 1,000 ms (MIMALLOC_PURGE_DELAY overrides it).
        // SAFETY: reads one of mimalloc's run-time options.
        let delay = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(delay(), 1000);
        }
        purge_freed_memory_at_once();
        assert_eq!(delay(), 0);
    }
}
