//! A headless Weston of our own, for machines without a desktop session:
//! the player starts one when there is no `WAYLAND_DISPLAY` (or with
//! `--headless`), the benchmark starts one per run so it can measure the
//! compositor's CPU time, and the plugin's and the VM's tests start one per
//! test: the one harness for all of them.
//!
//! Each instance lives in its own 0700 runtime directory and clients
//! connect by the absolute socket path (libwayland accepts one as the
//! display name), so nothing in the calling process's environment changes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Why a headless Weston could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum WestonError {
    #[error("cannot start `weston` ({0}); it is installed by `cargo xtask setup` (package weston)")]
    Spawn(#[source] std::io::Error),
    #[error("weston exited ({status}) before its socket appeared; its log:\n{log}")]
    Exited {
        status: std::process::ExitStatus,
        log: String,
    },
    #[error("weston's socket did not appear within {timeout:?}; its log:\n{log}")]
    SocketTimeout { timeout: Duration, log: String },
    #[error("weston-screenshooter failed: {0}")]
    Screenshot(String),
    #[error("{path}: not a screenshot this code can read: {why}")]
    Png { path: PathBuf, why: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WestonError {
    let what = what.into();
    move |source| WestonError::Io { what, source }
}

/// Weston's renderer: `Gl` (llvmpipe or a GPU) offers linux-dmabuf,
/// `Pixman` does not (clients fall back to `wl_shm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renderer {
    Gl,
    Pixman,
}

impl Renderer {
    pub fn name(self) -> &'static str {
        match self {
            Renderer::Gl => "gl",
            Renderer::Pixman => "pixman",
        }
    }
}

/// How to start the compositor.
#[derive(Clone, Debug)]
pub struct WestonConfig {
    pub renderer: Renderer,
    pub width: u32,
    pub height: u32,
    /// `kiosk` makes every toplevel fill the output (tests, the player);
    /// `desktop` keeps client sizes and draws server-side decorations.
    /// Headless kiosk (Weston 14) takes one window per compositor: with no
    /// seat it keeps a closed window as the active one, and the next
    /// window to map touches freed memory and can crash it.
    pub shell: &'static str,
    /// How long to wait for the socket (llvmpipe under TCG is slow to start).
    pub start_timeout: Duration,
    /// Have glibc fill Weston's freed memory and skip its per-thread cache,
    /// so a use-after-free in Weston crashes it every time instead of when
    /// the heap happens not to be reused (tests: a flaky crash on one
    /// machine becomes a certain one on all).
    pub poison_freed_memory: bool,
    /// Where its runtime folder is made (default: the temporary folder).
    pub runtime_parent: Option<PathBuf>,
    /// Weston gets SIGTERM when the thread that started it ends, the process
    /// included (a crash, SIGKILL), and its own process group, so a
    /// terminal's Ctrl-C reaches only the caller, which then stops it.
    pub die_with_parent: bool,
    /// Start with a configuration file holding `[core]`
    /// `color-management=true`: Weston 15+ then advertises
    /// `wp_color_manager_v1` (older ones ignore the key).
    pub color_management: bool,
}

impl Default for WestonConfig {
    fn default() -> Self {
        WestonConfig {
            renderer: Renderer::Gl,
            width: 1280,
            height: 720,
            shell: "kiosk",
            start_timeout: Duration::from_secs(120),
            poison_freed_memory: false,
            runtime_parent: None,
            die_with_parent: false,
            color_management: false,
        }
    }
}

/// Make `command`'s child get SIGTERM when this thread ends, and put it in
/// a process group of its own (see [`WestonConfig::die_with_parent`]).
pub fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid is async-signal-safe and touches no memory.
    let parent = unsafe { libc::getpid() };
    command.process_group(0);
    // SAFETY: the closure runs in the child between fork and exec and calls
    // only async-signal-safe functions (prctl, getppid, kill), allocating
    // nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl: then no signal comes.
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGTERM);
            }
            Ok(())
        });
    }
}

/// A running headless Weston; stopped (SIGTERM, then SIGKILL) on drop.
pub struct HeadlessWeston {
    child: Child,
    runtime_dir: PathBuf,
    socket_name: String,
    shots: AtomicUsize,
    keep_runtime_dir: bool,
}

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

impl HeadlessWeston {
    pub fn start(config: &WestonConfig) -> Result<HeadlessWeston, WestonError> {
        let instance = INSTANCES.fetch_add(1, Ordering::Relaxed);
        // A fresh 0700 folder (mkdtemp): nobody else can have made it or
        // read it, and libwayland refuses runtime dirs that others can read.
        let parent = config
            .runtime_parent
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        // mkdtemp, 0700.
        let runtime_dir = tempfile::Builder::new()
            .prefix("zc-weston-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&parent)
            .map_err(io_error(format!(
                "creating a runtime folder in {}",
                parent.display()
            )))?
            .keep();
        let socket_name = format!("zc-weston-{instance}");
        let mut command = Command::new("weston");
        if config.die_with_parent {
            die_with_parent(&mut command);
        }
        if config.poison_freed_memory {
            // tcache frees skip the perturbation, so it goes off too.
            command.env(
                "GLIBC_TUNABLES",
                "glibc.malloc.tcache_count=0:glibc.malloc.perturb=165",
            );
        }
        if config.color_management {
            let ini = runtime_dir.join("weston.ini");
            std::fs::write(&ini, "[core]\ncolor-management=true\n")
                .map_err(io_error(format!("writing {}", ini.display())))?;
            command.arg(format!("--config={}", ini.display()));
            // The colour profiles the compositor makes (image descriptions
            // clients set included) go to its log, for tests to read back.
            command.arg("--logger-scopes=log,color-lcms-profiles");
        }
        let child = command
            .args([
                "--backend=headless",
                &format!("--renderer={}", config.renderer.name()),
                &format!("--shell={}", config.shell),
                "--idle-time=0",
                // The debug protocol is what weston-screenshooter uses.
                "--debug",
                &format!("--socket={socket_name}"),
                &format!("--width={}", config.width),
                &format!("--height={}", config.height),
                &format!("--log={}", runtime_dir.join("weston.log").display()),
            ])
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(WestonError::Spawn)?;
        let mut weston = HeadlessWeston {
            child,
            runtime_dir,
            socket_name,
            shots: AtomicUsize::new(0),
            keep_runtime_dir: false,
        };
        weston.wait_for_socket(config.start_timeout)?;
        Ok(weston)
    }

    fn wait_for_socket(&mut self, timeout: Duration) -> Result<(), WestonError> {
        // A timeout too long for `Instant` is capped (a day is forever here).
        let deadline = Instant::now() + timeout.min(Duration::from_secs(86_400));
        // The socket file appears before Weston listens on it: wait until a
        // connection is accepted, or a client started now could be refused.
        while std::os::unix::net::UnixStream::connect(self.socket_path()).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(WestonError::Exited {
                    status,
                    log: self.log(),
                });
            }
            if Instant::now() >= deadline {
                return Err(WestonError::SocketTimeout {
                    timeout,
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The socket's absolute path: a valid `WAYLAND_DISPLAY` and `display=`.
    pub fn socket_path(&self) -> PathBuf {
        self.runtime_dir.join(&self.socket_name)
    }

    pub fn socket_name(&self) -> &str {
        &self.socket_name
    }

    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.runtime_dir.join("weston.log"))
            .unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// Whether Weston is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kill Weston now (SIGKILL), as a crashing compositor would go.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Keep the runtime directory (log, screenshots) after drop.
    pub fn keep_runtime_dir(&mut self) {
        self.keep_runtime_dir = true;
    }

    /// Capture the output through weston-screenshooter (the debug
    /// protocol) and return the PNG's path inside the runtime directory.
    pub fn screenshot(&self) -> Result<Screenshot, WestonError> {
        decode_png(&self.screenshot_png()?)
    }

    /// Capture the output through weston-screenshooter (the debug
    /// protocol) and return the PNG's path inside the runtime directory.
    pub fn screenshot_png(&self) -> Result<PathBuf, WestonError> {
        let shot = self.shots.fetch_add(1, Ordering::Relaxed);
        let dir = self.runtime_dir.join(format!("shot-{shot}"));
        std::fs::create_dir_all(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
        let output = Command::new("weston-screenshooter")
            .current_dir(&dir)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("WAYLAND_DISPLAY", &self.socket_name)
            .output()
            .map_err(io_error("running weston-screenshooter"))?;
        if !output.status.success() {
            return Err(WestonError::Screenshot(format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        std::fs::read_dir(&dir)
            .map_err(io_error(format!("reading {}", dir.display())))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|e| e == "png"))
            .ok_or_else(|| {
                WestonError::Screenshot(format!("it wrote no PNG into {}", dir.display()))
            })
    }
}

/// A screenshot as tightly packed RGB.
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
    pub path: PathBuf,
}

impl Screenshot {
    /// The pixel at (x, y). Panics outside the picture (a test's mistake).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        assert!(
            x < self.width && y < self.height,
            "({x}, {y}) outside {}x{}",
            self.width,
            self.height
        );
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// Decode an 8-bit RGB or RGBA PNG (what weston-screenshooter writes)
/// into packed RGB.
pub fn decode_png(path: &Path) -> Result<Screenshot, WestonError> {
    let png_error = |why: String| WestonError::Png {
        path: path.to_owned(),
        why,
    };
    let file =
        std::fs::File::open(path).map_err(io_error(format!("opening {}", path.display())))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| png_error(e.to_string()))?;
    let mut data = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut data)
        .map_err(|e| png_error(e.to_string()))?;
    data.truncate(info.buffer_size());
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => return Err(png_error(format!("colour type {other:?}, not RGB or RGBA"))),
    };
    let rgb = data
        .chunks_exact(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Ok(Screenshot {
        width: info.width,
        height: info.height,
        rgb,
        path: path.to_owned(),
    })
}

impl Drop for HeadlessWeston {
    fn drop(&mut self) {
        // SIGTERM first so Weston removes its socket and lock file.
        // SAFETY: kill(2) on our own child's pid; at worst it fails with ESRCH.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        if self.keep_runtime_dir || std::thread::panicking() {
            eprintln!(
                "weston's runtime dir (log, screenshots) kept at {}",
                self.runtime_dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.runtime_dir);
        }
    }
}
