//! `cargo xtask demo`: the main job. For now: zc-info's backend table, on
//! the host and then inside the dma-buf VM (with vgem loaded for GBM).

use std::process::Command;

use anyhow::{Result, bail};

use crate::util::{repo_root, run_checked, step};
use crate::{setup, vm};

pub fn run() -> Result<()> {
    if !setup::is_complete() {
        step("set-up is incomplete: running `cargo xtask setup` first");
        setup::run()?;
    }
    step("building zc-info (release)");
    run_checked(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(repo_root())
            .args([
                "build",
                "--release",
                "--quiet",
                "--package",
                "zc-app",
                "--bin",
                "zc-info",
            ]),
    )?;
    let zc_info = repo_root().join("target/release/zc-info");

    step("on this machine");
    run_checked(&mut Command::new(&zc_info))?;

    println!();
    step("inside the dma-buf VM (6.12 kernel; vgem loaded so GBM has a DRM device)");
    let script = format!(
        "modprobe vgem && {}",
        vm::shell_quote(&zc_info.to_string_lossy())
    );
    let status = vm::run_script(&script, "zc-info")?.status;
    if status != 0 {
        bail!("zc-info failed inside the VM (status {status})");
    }
    Ok(())
}
