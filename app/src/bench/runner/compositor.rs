//! The one headless Weston the cases share (started again if it dies), with
//! the timeline that counts the frames it draws, and how the report
//! describes it.

use crate::bench::BenchError;
use crate::bench::environment::{self, Compositor};
use crate::bench::timeline::Timeline;
use crate::weston::{HeadlessWeston, Renderer, WestonConfig};

use super::Options;

/// Weston's shell for the benchmark. Weston 14's kiosk shell on a seatless
/// headless output keeps a closed window as the output's active one and
/// touches that freed memory when the next window maps (a segfault in
/// kiosk-shell.so), and the benchmark maps one window per case. So the
/// desktop shell it is, for every path alike; windows keep the video's size.
pub const SHELL: &str = "desktop";

/// The compositor and its frame counter, restarted if it dies.
pub(super) struct RunningCompositor {
    pub(super) weston: HeadlessWeston,
    pub(super) timeline: Result<Timeline, String>,
}

pub(super) fn start_compositor(options: &Options) -> Result<RunningCompositor, BenchError> {
    let config = WestonConfig {
        renderer: Renderer::Gl,
        width: options.output_size.0,
        height: options.output_size.1,
        shell: SHELL,
        ..WestonConfig::default()
    };
    let weston = HeadlessWeston::start(&config)?;
    let timeline = Timeline::start(&weston, &weston.runtime_dir().join("timeline.jsonl"))
        .map_err(|e| e.to_string());
    Ok(RunningCompositor { weston, timeline })
}

impl RunningCompositor {
    /// The compositor as the report's environment names it.
    pub(super) fn describe(&self, options: &Options) -> Compositor {
        Compositor {
            name: "weston".to_owned(),
            version: environment::weston_version(),
            backend: "headless".to_owned(),
            renderer: "gl".to_owned(),
            gl_renderer: environment::gl_renderer_from_log(&self.weston.log()),
            shell: SHELL.to_owned(),
            output_width: options.output_size.0,
            output_height: options.output_size.1,
            frames_drawn_from: match &self.timeline {
                Ok(_) => {
                    "Weston's timeline (weston-debug timeline: core_flush_damage points)".to_owned()
                }
                Err(e) => format!("nowhere ({e}): compositor CPU is per frame made instead"),
            },
        }
    }
}
