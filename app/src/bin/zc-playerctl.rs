//! zc-playerctl: send requests to a running zc-player's control socket and
//! print its replies, one JSON line each. For scripts and the demo.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};

/// Drive a zc-player through its control socket (`zc-player --ipc PATH`).
#[derive(Parser, Debug)]
#[command(
    name = "zc-playerctl",
    version,
    after_help = "Example:\n  zc-playerctl /tmp/zc.sock '{\"command\":\"pause\"}' '{\"command\":\"stats\"}'\n\n\
                  Exit status: 0 when every reply is ok, 1 when one is an error, 2 when the player cannot be reached."
)]
struct Args {
    /// The player's control socket.
    socket: PathBuf,
    /// Requests, one JSON object each (see `zc-player --help`).
    #[arg(required = true)]
    requests: Vec<String>,
    /// Wait up to this many seconds for the socket to appear (a player still starting).
    #[arg(long, default_value_t = 0)]
    wait: u64,
}

fn connect(args: &Args) -> Result<UnixStream> {
    // `--wait` too long for `Instant` waits forever.
    let deadline = Instant::now().checked_add(Duration::from_secs(args.wait));
    loop {
        match UnixStream::connect(&args.socket) {
            Ok(stream) => return Ok(stream),
            Err(e) if deadline.is_some_and(|d| Instant::now() >= d) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot reach a player at {} (is `zc-player --ipc {}` running?)",
                        args.socket.display(),
                        args.socket.display()
                    )
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn run(args: &Args) -> Result<bool> {
    let stream = connect(args)?;
    let mut writer = stream.try_clone().context("cloning the socket")?;
    let mut reader = BufReader::new(stream);
    let mut all_ok = true;
    for request in &args.requests {
        if request.contains('\n') {
            bail!("a request is one line: {request:?}");
        }
        writeln!(writer, "{request}").context("sending a request")?;
        let mut reply = String::new();
        if reader.read_line(&mut reply).context("reading the reply")? == 0 {
            bail!("the player closed the connection before answering {request}");
        }
        print!("{reply}");
        let ok = serde_json::from_str::<serde_json::Value>(&reply)
            .ok()
            .and_then(|v| v.get("ok").and_then(|ok| ok.as_bool()))
            .unwrap_or(false);
        all_ok &= ok;
    }
    Ok(all_ok)
}

fn main() {
    zc_app::cli_docs::generate_if_asked(Args::command);
    let args = Args::parse();
    match run(&args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(err) => {
            eprintln!("zc-playerctl: {err:#}");
            std::process::exit(2);
        }
    }
}
