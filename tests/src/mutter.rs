//! GNOME's Mutter, headless in the VM (forky's root has Mutter 50): the
//! compositor most desktop users run. It needs a DRM device to start, which
//! virtio-gpu gives (`cargo xtask vm` adds the device to every VM);
//! ENVIRONMENT.md has the verified command line. Mutter has no screenshot
//! client: tests check counters and presentation feedback on it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether this root has Mutter; forky's must (the caller asserts that).
pub fn available() -> bool {
    Path::new("/usr/bin/mutter").exists()
}

/// For a test on Mutter: whether this root has it (then run the test);
/// else it says so and the test returns. Fails on forky, whose root must.
pub fn here_or_skip() -> bool {
    let distro = std::env::var("ZC_DISTRO").unwrap_or_else(|_| "bookworm".to_owned());
    if available() {
        return true;
    }
    assert_ne!(distro, "forky", "forky's root has Mutter");
    println!("{distro}: no Mutter in this root, nothing to test here");
    false
}

/// virtio-gpu's DRM driver, loaded for Mutter and unloaded after, so the
/// Weston tests keep llvmpipe without a DRM device.
pub struct VirtioGpu;

impl VirtioGpu {
    pub fn load() -> VirtioGpu {
        crate::load_module("virtio_gpu", &[], "/dev/dri/renderD128");
        VirtioGpu
    }
}

impl Drop for VirtioGpu {
    fn drop(&mut self) {
        // Mutter may still be leaving the device for a moment.
        let deadline = Instant::now() + Duration::from_secs(20);
        while Path::new("/sys/module/virtio_gpu").exists() && Instant::now() < deadline {
            let _ = Command::new("modprobe")
                .args(["-q", "-r", "virtio_gpu"])
                .stderr(std::process::Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Mutter headless with a virtual monitor, in a D-Bus session of its own.
pub struct Mutter {
    child: std::process::Child,
    runtime_dir: PathBuf,
    /// The compositor's socket: pass it as the display name.
    pub socket: PathBuf,
}

impl Mutter {
    pub fn start() -> Mutter {
        use std::os::unix::fs::PermissionsExt;
        let runtime_dir = std::env::temp_dir().join("zc-mutter");
        let _ = std::fs::remove_dir_all(&runtime_dir);
        std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod 0700");
        let log = std::fs::File::create(runtime_dir.join("mutter.log")).expect("log");
        let child = Command::new("dbus-run-session")
            .args([
                "--",
                "mutter",
                "--headless",
                "--wayland",
                "--no-x11",
                "--virtual-monitor",
                "640x480",
                "--wayland-display=zc-mutter",
            ])
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dbus-run-session -- mutter");
        let socket = runtime_dir.join("zc-mutter");
        let mut mutter = Mutter {
            child,
            runtime_dir,
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(180);
        while !mutter.socket.exists() {
            if let Ok(Some(status)) = mutter.child.try_wait() {
                panic!(
                    "mutter exited ({status}) before its socket appeared:\n{}",
                    mutter.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mutter's socket did not appear:\n{}",
                mutter.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        mutter
    }

    /// What Mutter wrote so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.runtime_dir.join("mutter.log")).unwrap_or_default()
    }
}

impl Drop for Mutter {
    fn drop(&mut self) {
        // dbus-run-session ends the session (and Mutter) when it is killed;
        // SIGTERM first so Mutter leaves the DRM device.
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("pkill").args(["-x", "mutter"]).status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.runtime_dir);
        }
    }
}
