//! A headless Weston for pixel tests: started per test in its own runtime
//! directory, screenshots through `weston-screenshooter`, killed on drop.
//!
//! Clients connect by the absolute socket path (libwayland accepts one as
//! the display name), so nothing in this process's environment changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use zc_app::weston::{HeadlessWeston, WestonConfig};
pub use zc_app::weston::{Renderer, Screenshot};

/// A test's compositor: [`HeadlessWeston`] with kiosk shell, panicking
/// with Weston's log when something goes wrong.
pub struct Weston(HeadlessWeston);

impl Weston {
    /// Start a kiosk-shell Weston with one `width`x`height` output and wait
    /// for its socket. Panics with Weston's log if it does not come up.
    pub fn start(renderer: Renderer, width: u32, height: u32) -> Weston {
        // With vgem loaded, Weston's GL renderer crashes drawing dma-bufs
        // (ENVIRONMENT.md): pixel tests run without it.
        unload_vgem();
        Weston::spawn(renderer, width, height)
    }

    /// Like [`Weston::start`] with the desktop shell, which keeps a
    /// toplevel's own size unless it asks for fullscreen (kiosk makes every
    /// toplevel fill the output).
    pub fn start_desktop(renderer: Renderer, width: u32, height: u32) -> Weston {
        unload_vgem();
        let config = WestonConfig {
            renderer,
            width,
            height,
            shell: "desktop",
            ..WestonConfig::default()
        };
        Weston(HeadlessWeston::start(&config).unwrap_or_else(|e| panic!("{e}")))
    }

    /// A GL Weston on vgem: linux-dmabuf v5 with a main device and tranches.
    /// For feedback and negotiation tests only; never draw dma-bufs on it.
    pub fn start_with_vgem(width: u32, height: u32) -> Weston {
        crate::load_vgem();
        Weston::spawn(Renderer::Gl, width, height)
    }

    fn spawn(renderer: Renderer, width: u32, height: u32) -> Weston {
        let config = WestonConfig {
            renderer,
            width,
            height,
            ..WestonConfig::default()
        };
        Weston(HeadlessWeston::start(&config).unwrap_or_else(|e| panic!("{e}")))
    }

    /// The socket's absolute path: a valid `WAYLAND_DISPLAY` and `display=`.
    pub fn socket_path(&self) -> PathBuf {
        self.0.socket_path()
    }

    pub fn runtime_dir(&self) -> &Path {
        self.0.runtime_dir()
    }

    pub fn pid(&self) -> u32 {
        self.0.pid()
    }

    /// What a failing test prints about the compositor: whether it is
    /// still alive, any kernel report of it crashing, and the end of its
    /// log (CI shows only part of a failure's output, so the end comes
    /// first and the whole log stays in the runtime directory).
    pub fn log(&self) -> String {
        const TAIL: usize = 60;
        let log = self.0.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(TAIL)..].join("\n");
        format!(
            "weston pid {}: {}\n{}last {} of {} log lines ({}):\n{tail}",
            self.pid(),
            process_state(self.pid()),
            kernel_reports_about("weston"),
            TAIL.min(lines.len()),
            lines.len(),
            self.runtime_dir().join("weston.log").display(),
        )
    }

    /// Whether Weston is still running.
    pub fn is_running(&mut self) -> bool {
        self.0.is_running()
    }

    /// Kill Weston now (SIGKILL), as a crashing compositor would go.
    pub fn kill(&mut self) {
        self.0.kill()
    }

    /// Capture the output through weston-screenshooter (the debug protocol).
    pub fn screenshot(&self) -> Screenshot {
        self.0
            .screenshot()
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log()))
    }
}

/// "running", "exited (zombie)" or "gone", from /proc.
fn process_state(pid: u32) -> &'static str {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => match stat.rsplit_once(')').map(|(_, rest)| rest.trim_start()) {
            Some(rest) if rest.starts_with('Z') => "exited (zombie, not yet reaped)",
            _ => "running",
        },
        Err(_) => "gone",
    }
}

/// Kernel log lines that mention `name` and a crash (segfault, trap,
/// killed), e.g. `weston[123]: segfault at 0 ip ... in kiosk-shell.so`.
fn kernel_reports_about(name: &str) -> String {
    let Ok(output) = Command::new("dmesg").output() else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let reports: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(name))
        .filter(|l| {
            ["segfault", "trap", "killed", "Killed"]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    if reports.is_empty() {
        String::new()
    } else {
        format!("kernel log:\n{}\n", reports.join("\n"))
    }
}

fn unload_vgem() {
    if Path::new("/sys/module/vgem").exists() {
        let status = Command::new("modprobe")
            .args(["-r", "vgem"])
            .status()
            .expect("running modprobe -r");
        assert!(
            status.success(),
            "cannot unload vgem (still in use?); Weston's GL renderer crashes on it"
        );
    }
}

/// Decode an 8-bit RGB or RGBA PNG into packed RGB; panics if it cannot.
pub fn decode_png(path: &Path) -> Screenshot {
    zc_app::weston::decode_png(path).unwrap_or_else(|e| panic!("{e}"))
}
