//! `cargo xtask`: the front door of zc.
//!
//! - `setup`: install what a fresh Debian 12 / Ubuntu machine needs (idempotent).
//! - `test`: native tests and the fuzz targets, then the VM suite in one VM boot.
//! - `fuzz`: the cargo-fuzz targets in fuzz/, 60 s each.
//! - `vm -- CMD...`: run a command inside the dma-buf VM.
//! - `demo [CLIP]`: the main job: zc-player plays a clip on the zero-copy path.
//! - `bench`: zc-bench natively and in the VM (zero-copy versus copy).
//! - `install`/`uninstall`: zc into a prefix or the user's folders.
//! - `package`: Debian packages of the plugin and the programs (cargo-deb).

mod bench;
mod demo;
mod dist;
mod distro;
mod fuzz;
mod install;
mod layout;
mod manifest;
mod package;
mod setup;
mod test;
mod util;
mod vm;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup            install packages, virtme-ng and the VM kernel (idempotent)
  test [--native|--vm|--distro NAME] [FILTER]
                   run the native tests and the fuzz targets (not with a FILTER), then
                   the VM suite inside the dma-buf VM on Debian 12, then the interop
                   suite on Debian 13 and testing roots
  fuzz [--seconds N] [TARGET...]
                   run the cargo-fuzz targets (layout, caps) for N s each (default 60),
                   installing cargo-fuzz if missing; crashes are saved in fuzz/artifacts/
  vm [--distro NAME] -- CMD...
                   run CMD inside the dma-buf VM and exit with its status; NAME:
                   bookworm (the host's root, default), trixie (Debian 13,
                   GStreamer 1.26), forky (Debian testing, GStreamer 1.28, Weston 16)
  roots            build or update the VM's Debian 13 and testing roots (no VM boot)
  demo [CLIP]      the main job: zc-player plays CLIP (default: a generated out/sample.mkv)
                   headless, in the VM when this kernel cannot make dma-bufs; prints the
                   statistics and writes a screenshot, a snapshot and thumbnails into out/
  bench [--quick] [--native|--vm] [-- ARGS]
                   zc-bench (release) natively, then in the VM; reports in out/bench/
  install [--prefix DIR | --user] [--profile release|dev] [--no-build] [--force]
                   build (release) and install the plugin, the programs, man pages,
                   completions, desktop entry and icon; --user: ~/.local; --prefix /usr:
                   the distribution's plugin folder; default prefix /usr/local (other
                   prefixes need GST_PLUGIN_PATH=PREFIX/lib/gstreamer-1.0); a manifest in
                   PREFIX/share/zc lists what was installed; never replaces a file zc did
                   not install unless --force
  uninstall [--prefix DIR | --user]
                   remove exactly what install put there (from its manifest)
  package [--no-build]
                   Debian packages gstreamer1.0-zerocopy and zc-tools into target/debian/
                   (cargo-deb, installed if missing)

environment:
  ZC_CACHE_DIR     where the VM kernel, virtme-ng and the Debian roots live (default ~/.cache/zc)
  ZC_VM_TIMEOUT    seconds before a VM run is stopped (default 5400)
  ZC_FUZZ_SECONDS  seconds per fuzz target in `test` and `fuzz` (default 60; 0 skips in `test`)
";

fn main() {
    // The clock the steps' times count from.
    util::elapsed();
    if let Err(err) = run() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        print!("{USAGE}");
        return Ok(());
    };
    let rest = &args[1..];
    match command.as_str() {
        "setup" => setup::run(),
        "test" => test::run(rest),
        "fuzz" => fuzz::run(rest),
        "vm" => {
            let (distro, rest) = match rest {
                [flag, name, rest @ ..] if flag == "--distro" => {
                    (distro::Distro::parse(name)?, rest)
                }
                _ => (distro::Distro::Bookworm, rest),
            };
            let command = match rest.first().map(String::as_str) {
                Some("--") => &rest[1..],
                _ => rest,
            };
            if command.is_empty() {
                bail!("usage: cargo xtask vm [--distro bookworm|trixie|forky] -- <command...>");
            }
            let status = vm::run_interactive(distro, command)?;
            std::process::exit(status);
        }
        "roots" => {
            // Build or update the Debian roots without booting the VM.
            for distro in [distro::Distro::Trixie, distro::Distro::Forky] {
                if let Some(root) = distro::ensure_root(distro)? {
                    println!("{}: {}", distro.name(), root.display());
                }
            }
            Ok(())
        }
        "demo" => demo::run(rest),
        "bench" => bench::run(rest),
        "install" => install::install(rest),
        "uninstall" => install::uninstall(rest),
        "package" => package::run(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}
