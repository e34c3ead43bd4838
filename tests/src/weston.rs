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
///
/// One window-mapping client per kiosk compositor: call [`Weston::restart`]
/// before the next one. Weston 14's kiosk shell forgets a removed window
/// only when a seat exists (`desktop_surface_removed` resets the output's
/// active surface tree inside `if (seat && kiosk_seat)`), and the headless
/// backend has no seat. The freed window stays the output's active tree,
/// and the next window to map walks freed memory: a segfault in
/// kiosk-shell.so at `-0x80` when the heap was not reused, silence when it
/// was (Weston runs with poisoned frees here, so it is always the former).
/// No client can prevent that, so the tests do not provoke it.
pub struct Weston {
    inner: HeadlessWeston,
    kind: Kind,
    config: WestonConfig,
}

/// How the compositor was started, so a restart repeats it.
#[derive(Clone, Copy)]
enum Kind {
    Plain,
    Vgem,
}

impl Weston {
    /// Start a kiosk-shell Weston with one `width`x`height` output and wait
    /// for its socket. Panics with Weston's log if it does not come up.
    pub fn start(renderer: Renderer, width: u32, height: u32) -> Weston {
        Weston::launch(Kind::Plain, plain(renderer, width, height))
    }

    /// Like [`Weston::start`] with the desktop shell, which keeps a
    /// toplevel's own size unless it asks for fullscreen (kiosk makes every
    /// toplevel fill the output).
    pub fn start_desktop(renderer: Renderer, width: u32, height: u32) -> Weston {
        let config = WestonConfig {
            shell: "desktop",
            ..plain(renderer, width, height)
        };
        Weston::launch(Kind::Plain, config)
    }

    /// Like [`Weston::start`] with colour management on (`[core]`
    /// `color-management=true`): Weston 16 advertises `wp_color_manager_v1`.
    pub fn start_color_managed(renderer: Renderer, width: u32, height: u32) -> Weston {
        let config = WestonConfig {
            color_management: true,
            ..plain(renderer, width, height)
        };
        Weston::launch(Kind::Plain, config)
    }

    /// A GL Weston on vgem: linux-dmabuf v5 with a main device and tranches.
    /// For feedback and negotiation tests only; never draw dma-bufs on it.
    pub fn start_with_vgem(width: u32, height: u32) -> Weston {
        Weston::launch(
            Kind::Vgem,
            WestonConfig {
                width,
                height,
                ..WestonConfig::default()
            },
        )
    }

    /// Stop this compositor and start a fresh one like it (a new socket:
    /// ask [`Weston::socket_path`] again), for the next client's window.
    pub fn restart(&mut self) {
        self.inner.kill();
        *self = Weston::launch(self.kind, self.config.clone());
    }

    fn launch(kind: Kind, mut config: WestonConfig) -> Weston {
        // Weston's use-after-free bugs crash here every time, not by chance.
        config.poison_freed_memory = true;
        match kind {
            // With vgem loaded, Weston's GL renderer crashes drawing
            // dma-bufs (ENVIRONMENT.md): pixel tests run without it.
            Kind::Plain => unload_vgem(),
            Kind::Vgem => {
                crate::load_vgem();
            }
        }
        let inner = HeadlessWeston::start(&config).unwrap_or_else(|e| panic!("{e}"));
        Weston {
            inner,
            kind,
            config,
        }
    }

    /// The socket's absolute path: a valid `WAYLAND_DISPLAY` and `display=`.
    pub fn socket_path(&self) -> PathBuf {
        self.inner.socket_path()
    }

    pub fn runtime_dir(&self) -> &Path {
        self.inner.runtime_dir()
    }

    pub fn pid(&self) -> u32 {
        self.inner.pid()
    }

    /// What a failing test prints about the compositor: whether it is
    /// still alive, any kernel report of it crashing, and the end of its
    /// log (CI shows only part of a failure's output, so the end comes
    /// first and the whole log stays in the runtime directory).
    pub fn log(&self) -> String {
        const TAIL: usize = 60;
        let log = self.inner.log();
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
        self.inner.is_running()
    }

    /// Kill Weston now (SIGKILL), as a crashing compositor would go.
    pub fn kill(&mut self) {
        self.inner.kill()
    }

    /// Capture the output through weston-screenshooter (the debug protocol).
    pub fn screenshot(&self) -> Screenshot {
        self.inner
            .screenshot()
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log()))
    }
}

/// A kiosk compositor's configuration with this renderer and output size.
fn plain(renderer: Renderer, width: u32, height: u32) -> WestonConfig {
    WestonConfig {
        renderer,
        width,
        height,
        ..WestonConfig::default()
    }
}

/// The process's state from /proc (`R`unning, `S`leeping, `D`isk wait,
/// `Z`ombie...), or "gone".
fn process_state(pid: u32) -> String {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name.
        Ok(stat) => match stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
        {
            Some('Z') => "exited (zombie, not yet reaped)".to_string(),
            Some(state) => format!("alive (state {state})"),
            None => "unknown".to_string(),
        },
        Err(_) => "gone".to_string(),
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

/// The colorimetry the root's Weston assumes for a YUV buffer whose
/// colorimetry nobody stated (zcwaylandsink with `color-representation=off`,
/// or no `wp_color_representation_v1`): BT.709 limited on Weston 16
/// (forky), BT.601 limited on Weston 14 (bookworm, trixie), as GStreamer
/// colorimetry names.
pub fn unstated_yuv_colorimetry() -> &'static str {
    match std::env::var("ZC_DISTRO").as_deref() {
        Ok("forky") => "bt709",
        _ => "bt601",
    }
}

/// Whether the root's Weston has `wp_color_representation_v1`, so that
/// zcwaylandsink states each YUV stream's own colorimetry (Weston 16).
pub fn has_color_representation() -> bool {
    std::env::var("ZC_DISTRO").as_deref() == Ok("forky")
}

/// Whether the root's Weston paces frames committed ahead
/// (`wp_fifo_v1` + `wp_commit_timing_v1`, Weston 16).
pub fn has_compositor_pacing() -> bool {
    std::env::var("ZC_DISTRO").as_deref() == Ok("forky")
}

/// The colorimetry tests that compare a YUV picture make their frames in,
/// so that the expected colours are the stream's own. Where zcwaylandsink
/// states it (forky), one Weston would not assume by itself, so those tests
/// also prove it was stated; elsewhere the one the compositor assumes, so
/// they check what zc delivers rather than the compositor's guess.
pub fn yuv_test_colorimetry() -> &'static str {
    if has_color_representation() {
        match unstated_yuv_colorimetry() {
            "bt709" => "bt601",
            _ => "bt709",
        }
    } else {
        unstated_yuv_colorimetry()
    }
}
