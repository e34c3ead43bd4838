//! Shared helpers for zc's VM suite: tests that need a real dma-buf kernel
//! (`/dev/dma_heap`, `/dev/udmabuf`, vgem, vivid). `cargo xtask test` builds
//! them natively and runs them inside the 6.12 VM, where `ZC_IN_VM=1`.
//!
//! A device the VM is known to have but that is missing is a failure, never
//! a skip: these tests exist to prove the real kernel paths.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod app_window;
pub mod clip;
pub mod mutter;
pub mod player;
pub mod sink;
pub mod smpte;
pub mod sound;
pub mod v4l2;
pub mod vgem;
pub mod weston;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Fail loudly when run outside the VM, instead of passing vacuously.
pub fn require_vm() {
    assert!(
        std::env::var_os("ZC_IN_VM").is_some(),
        "this test needs the dma-buf VM: run `cargo xtask test` (or `cargo xtask vm -- <this test binary>`)"
    );
}

/// Load a kernel module (idempotent) and wait for the device node it adds.
pub fn load_module(name: &str, params: &[&str], node: &str) {
    require_vm();
    if !Path::new(node).exists() {
        let status = Command::new("modprobe")
            .arg(name)
            .args(params)
            .status()
            .expect("running modprobe");
        assert!(
            status.success(),
            "modprobe {name} failed: the VM kernel must have it as a module"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Path::new(node).exists() {
        assert!(
            Instant::now() < deadline,
            "{node} did not appear after modprobe {name}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The vgem card node (GBM allocates on it; its render node has no dumb buffers).
pub fn load_vgem() -> &'static Path {
    load_module("vgem", &[], "/dev/dri/card0");
    Path::new("/dev/dri/card0")
}

/// A vivid webcam-like capture device, as ENVIRONMENT.md describes it.
pub fn load_vivid() -> &'static Path {
    load_module(
        "vivid",
        &[
            "n_devs=1",
            "node_types=0x1",
            "num_inputs=1",
            "input_types=0x0",
        ],
        "/dev/video0",
    );
    Path::new("/dev/video0")
}

/// Open fds of this process.
pub use zc_dmabuf::fds::count as fd_count;

/// Resident set size of this process in bytes.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// A deterministic byte pattern, different for every offset within a page
/// and every page, so a misplaced or stale page shows up.
pub fn pattern_byte(seed: u8, index: usize) -> u8 {
    (index as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8 ^ seed ^ (index >> 12) as u8
}

pub fn fill_pattern(data: &mut [u8], seed: u8) {
    data.iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = pattern_byte(seed, i));
}

/// The first offset where `data` differs from the pattern, if any.
pub fn check_pattern(data: &[u8], seed: u8) -> Option<usize> {
    data.iter()
        .enumerate()
        .position(|(i, b)| *b != pattern_byte(seed, i))
}
