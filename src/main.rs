use clap::Parser;
use contact_vault::cli::{Cli, run};
use contact_vault::config::LogFormat;
use contact_vault::telemetry;

/// Makes glibc serve every allocation of 1 MiB or more (Argon2's 19 MiB, uploads, import
/// batches) with its own mapping, returned to the system when freed. By default glibc raises
/// that threshold after the first such free and keeps later big buffers in per-thread arenas:
/// a burst of 20 sign-ins left ~225 MB resident for good (docs/BENCHMARKS.md). Four arenas
/// (instead of eight per core) also cap what the many short-lived threads leave behind.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_big_buffers_to_the_system() {
    // SAFETY: mallopt only tunes the allocator; it takes the allocator's own locks.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_big_buffers_to_the_system() {}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    return_big_buffers_to_the_system();
    let cli = Cli::parse();
    let _ = dotenvy::dotenv();
    let format = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        _ => LogFormat::Text,
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
