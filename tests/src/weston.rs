//! A headless Weston for pixel tests: started per test in its own runtime
//! directory, screenshots through `weston-screenshooter`, killed on drop.
//!
//! Clients connect by the absolute socket path (libwayland accepts one as
//! the display name), so nothing in this process's environment changes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Weston's renderer: `Gl` (llvmpipe) offers linux-dmabuf, `Pixman` does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renderer {
    Gl,
    Pixman,
}

impl Renderer {
    fn name(self) -> &'static str {
        match self {
            Renderer::Gl => "gl",
            Renderer::Pixman => "pixman",
        }
    }
}

pub struct Weston {
    child: Child,
    runtime_dir: PathBuf,
    socket_name: String,
    shots: AtomicUsize,
}

/// A screenshot as tightly packed RGB.
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
    pub path: PathBuf,
}

impl Screenshot {
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

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

impl Weston {
    /// Start a kiosk-shell Weston with one `width`x`height` output and wait
    /// for its socket. Panics with Weston's log if it does not come up.
    pub fn start(renderer: Renderer, width: u32, height: u32) -> Weston {
        // With vgem loaded, Weston's GL renderer crashes drawing dma-bufs
        // (ENVIRONMENT.md): pixel tests run without it.
        unload_vgem();
        Weston::spawn(renderer, width, height)
    }

    /// A GL Weston on vgem: linux-dmabuf v5 with a main device and tranches.
    /// For feedback and negotiation tests only; never draw dma-bufs on it.
    pub fn start_with_vgem(width: u32, height: u32) -> Weston {
        crate::load_vgem();
        Weston::spawn(Renderer::Gl, width, height)
    }

    fn spawn(renderer: Renderer, width: u32, height: u32) -> Weston {
        let instance = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let runtime_dir =
            std::env::temp_dir().join(format!("zc-weston-{}-{instance}", std::process::id()));
        let _ = std::fs::remove_dir_all(&runtime_dir);
        std::fs::create_dir_all(&runtime_dir).expect("weston runtime dir");
        // libwayland refuses runtime dirs that others can read.
        set_mode(&runtime_dir, 0o700);
        let socket_name = format!("zc-weston-{instance}");
        let child = Command::new("weston")
            .args([
                "--backend=headless",
                &format!("--renderer={}", renderer.name()),
                "--shell=kiosk",
                "--idle-time=0",
                "--debug",
                &format!("--socket={socket_name}"),
                &format!("--width={width}"),
                &format!("--height={height}"),
                &format!("--log={}", runtime_dir.join("weston.log").display()),
            ])
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting weston (installed by `cargo xtask setup`)");
        let mut weston = Weston {
            child,
            runtime_dir,
            socket_name,
            shots: AtomicUsize::new(0),
        };
        weston.wait_for_socket(Duration::from_secs(120));
        weston
    }

    fn wait_for_socket(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.socket_path().exists() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "weston exited ({status}) before its socket appeared:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "weston's socket did not appear in {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The socket's absolute path: a valid `WAYLAND_DISPLAY` and `display=`.
    pub fn socket_path(&self) -> PathBuf {
        self.runtime_dir.join(&self.socket_name)
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

    /// Capture the output through weston-screenshooter (the debug protocol).
    pub fn screenshot(&self) -> Screenshot {
        let shot = self.shots.fetch_add(1, Ordering::Relaxed);
        let dir = self.runtime_dir.join(format!("shot-{shot}"));
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let output = Command::new("weston-screenshooter")
            .current_dir(&dir)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("WAYLAND_DISPLAY", &self.socket_name)
            .output()
            .expect("running weston-screenshooter");
        assert!(
            output.status.success(),
            "weston-screenshooter failed ({}): {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        let png = std::fs::read_dir(&dir)
            .expect("screenshot dir")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|e| e == "png"))
            .unwrap_or_else(|| panic!("weston-screenshooter wrote no PNG into {}", dir.display()));
        decode_png(&png)
    }
}

impl Drop for Weston {
    fn drop(&mut self) {
        // SIGTERM first so Weston removes its socket and lock file.
        // SAFETY: kill(2) on our own child's pid; at worst it fails with ESRCH.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.runtime_dir);
        } else {
            eprintln!(
                "weston's runtime dir (log, screenshots) kept at {}",
                self.runtime_dir.display()
            );
        }
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

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Decode an 8-bit RGB or RGBA PNG into packed RGB.
pub fn decode_png(path: &Path) -> Screenshot {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut data = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut data)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    data.truncate(info.buffer_size());
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("{}: unexpected PNG colour type {other:?}", path.display()),
    };
    let rgb = data
        .chunks_exact(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Screenshot {
        width: info.width,
        height: info.height,
        rgb,
        path: path.to_owned(),
    }
}
