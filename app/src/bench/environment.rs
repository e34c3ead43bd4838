//! Where the numbers came from: machine, kernel, GStreamer, zc's backend,
//! the compositor.

use std::process::Command;

use serde::{Deserialize, Serialize};
use zc_dmabuf::alloc;
use zc_dmabuf::{AllocatorOptions, BackendChoice};

/// Native, or inside zc's dma-buf VM (`cargo xtask vm` sets `ZC_IN_VM`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Where {
    Native,
    Vm,
}

impl Where {
    pub fn detect() -> Where {
        if std::env::var_os("ZC_IN_VM").is_some() {
            Where::Vm
        } else {
            Where::Native
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Where::Native => "native",
            Where::Vm => "vm",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Where::Native => "natively (this machine's kernel)",
            Where::Vm => {
                "in zc's dma-buf VM (6.12 kernel under software emulation, 5-100x slower than natively: compare ratios between paths only)"
            }
        }
    }
}

/// One allocation backend and whether it opens here.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BackendStatus {
    pub name: String,
    pub available: bool,
    pub reason: Option<String>,
}

/// The compositor every case shows its frames on.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Compositor {
    pub name: String,
    pub version: String,
    pub backend: String,
    pub renderer: String,
    /// The GL implementation Weston's log names (llvmpipe, a GPU driver).
    pub gl_renderer: Option<String>,
    pub shell: String,
    pub output_width: u32,
    pub output_height: u32,
    /// How frames drawn by the compositor were counted (Weston's timeline),
    /// or why they were not.
    pub frames_drawn_from: String,
}

/// The environment of one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Environment {
    #[serde(rename = "where")]
    pub where_: Where,
    pub kernel: String,
    pub cpu_model: String,
    pub cpu_count: u32,
    pub memory_kib: u64,
    pub gstreamer: String,
    /// The backend zc's `auto` picks here (heap, udmabuf, gbm, memfd).
    pub zc_backend: String,
    /// Whether zc's frames are dma-bufs here (memfd is not one).
    pub dma_buf: bool,
    pub backends: Vec<BackendStatus>,
    pub compositor: Option<Compositor>,
    pub vgem_loaded: bool,
    pub zc_bench_version: String,
    /// The commit of the checkout zc-bench was built in, read when it runs
    /// (`git describe --always --dirty`); none outside a checkout.
    #[serde(default)]
    pub zc_commit: Option<String>,
    /// The operating system (`/etc/os-release` PRETTY_NAME), e.g. the
    /// distribution root the VM booted.
    #[serde(default)]
    pub os: Option<String>,
    /// The machine's architecture (x86_64, aarch64).
    #[serde(default)]
    pub arch: String,
    /// Wall-clock start (seconds since 1970); for ordering runs, not timing.
    pub started_unix_s: u64,
}

impl Environment {
    /// Everything but the compositor (filled in once it runs).
    pub fn capture() -> Environment {
        let options = AllocatorOptions::default();
        let chosen = BackendChoice::from_env()
            .ok()
            .and_then(|choice| alloc::open(choice, &options).ok())
            .map(|allocator| allocator.backend());
        let backends = alloc::probe(&options)
            .into_iter()
            .map(|(backend, result)| BackendStatus {
                name: backend.name().to_owned(),
                available: result.is_ok(),
                reason: result.err().map(|e| e.to_string()),
            })
            .collect();
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Environment {
            where_: Where::detect(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
                .unwrap_or_else(|| "unknown".to_owned()),
            cpu_count: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            memory_kib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse().ok())
                .unwrap_or(0),
            gstreamer: gst::version_string().to_string(),
            zc_backend: chosen.map_or_else(|| "none".to_owned(), |b| b.name().to_owned()),
            dma_buf: chosen.is_some_and(|b| b != zc_dmabuf::Backend::Memfd),
            backends,
            compositor: None,
            vgem_loaded: std::path::Path::new("/sys/module/vgem").exists(),
            zc_bench_version: env!("CARGO_PKG_VERSION").to_owned(),
            zc_commit: zc_commit(),
            os: std::fs::read_to_string("/etc/os-release")
                .ok()
                .and_then(|text| os_name(&text)),
            arch: std::env::consts::ARCH.to_owned(),
            started_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}

/// `git describe --always --dirty` of the checkout this binary was built in
/// (`ZC_COMMIT` where the caller knows it: the newer VM roots have no git).
fn zc_commit() -> Option<String> {
    if let Some(commit) = std::env::var("ZC_COMMIT").ok().filter(|c| !c.is_empty()) {
        return Some(commit);
    }
    let output = Command::new("git")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// PRETTY_NAME of an os-release file.
fn os_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        Some(value.trim().trim_matches('"').to_owned()).filter(|v| !v.is_empty())
    })
}

/// `weston --version`, e.g. "weston 14.0.1".
pub fn weston_version() -> String {
    Command::new("weston")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The GL renderer line of Weston's log ("GL renderer: llvmpipe (LLVM ...)").
pub fn gl_renderer_from_log(log: &str) -> Option<String> {
    log.lines().find_map(|l| {
        l.split_once("GL renderer: ")
            .map(|(_, r)| r.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gl_renderer_is_read_from_westons_log() {
        let log = "[06:04:20.194] EGL version: 1.5\n[06:04:20.194] GL renderer: llvmpipe (LLVM 15.0.6, 256 bits)\n";
        assert_eq!(
            gl_renderer_from_log(log).as_deref(),
            Some("llvmpipe (LLVM 15.0.6, 256 bits)")
        );
        assert_eq!(gl_renderer_from_log("nothing"), None);
    }

    #[test]
    fn the_os_is_read_from_os_release() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n";
        assert_eq!(
            os_name(text).as_deref(),
            Some("Debian GNU/Linux 13 (trixie)")
        );
        assert_eq!(os_name("NAME=x\n"), None);
    }
}
