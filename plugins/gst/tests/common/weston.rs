//! A headless Weston for the plugin's native tests (included with
//! `#[path]` by the tests that show frames on a compositor): zc-wayland's
//! harness in a kiosk 640x480 GL configuration, panicking on failure.

use std::path::PathBuf;

use zc_wayland::headless::{HeadlessWeston, Renderer, WestonConfig};

/// A headless GL Weston (kiosk, 640x480) on a runtime dir of its own;
/// stopped on drop.
pub struct Weston {
    inner: HeadlessWeston,
}

impl Weston {
    /// Start one for the test `name` and wait until it accepts connections.
    pub fn start(name: &str) -> Weston {
        let config = WestonConfig {
            renderer: Renderer::Gl,
            width: 640,
            height: 480,
            shell: "kiosk",
            start_timeout: std::time::Duration::from_secs(60),
            die_with_parent: true,
            ..WestonConfig::default()
        };
        let inner = HeadlessWeston::start(&config)
            .unwrap_or_else(|e| panic!("{name}: weston (cargo xtask setup installs it): {e}"));
        Weston { inner }
    }

    pub fn socket(&self) -> PathBuf {
        self.inner.socket_path()
    }

    pub fn alive(&mut self) -> bool {
        self.inner.is_running()
    }
}
