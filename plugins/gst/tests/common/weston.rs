//! A headless Weston for the plugin's native tests (included with
//! `#[path]` by the tests that show frames on a compositor).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A headless GL Weston (kiosk, 640x480) on a runtime dir of its own;
/// killed on drop.
pub struct Weston {
    child: Child,
    runtime_dir: PathBuf,
    socket_name: String,
}

impl Weston {
    /// Start one for the test `name` and wait until it accepts connections.
    pub fn start(name: &str) -> Weston {
        let runtime_dir = std::env::temp_dir().join(format!("zc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&runtime_dir);
        std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))
                .expect("chmod 0700");
        }
        let socket_name = format!("zc-{name}");
        let child = Command::new("weston")
            // GL on llvmpipe, as the other native Weston tests run it.
            .args([
                "--backend=headless",
                "--renderer=gl",
                "--shell=kiosk",
                "--idle-time=0",
                &format!("--socket={socket_name}"),
                "--width=640",
                "--height=480",
            ])
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("weston (cargo xtask setup installs it)");
        let mut weston = Weston {
            child,
            runtime_dir,
            socket_name,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        // The file appears before Weston listens: wait for a connection.
        while std::os::unix::net::UnixStream::connect(weston.socket()).is_err() {
            assert!(weston.alive(), "weston exited before its socket appeared");
            assert!(Instant::now() < deadline, "weston's socket did not appear");
            std::thread::sleep(Duration::from_millis(50));
        }
        weston
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join(&self.socket_name)
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Weston {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
    }
}
