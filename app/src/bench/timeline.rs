//! How many frames the compositor drew, from Weston's timeline.
//!
//! Neither sink blocks on the compositor: a frame that arrives before the
//! compositor asked for one replaces the waiting one (zcwaylandsink) or is
//! dropped (waylandsink). So the compositor handles fewer frames than the
//! pipeline makes, and its CPU time is only comparable per frame it drew.
//! Weston (started with `--debug`) streams timeline points to
//! `weston-debug timeline`; each `core_flush_damage` point is one surface
//! with a new buffer drawn in one repaint (for wl_shm, the moment it
//! uploads the buffer). Points carry CLOCK_MONOTONIC times, the clock the
//! case's window is taken in.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::weston::HeadlessWeston;

use super::{BenchError, io_error};

/// A `weston-debug timeline` subscription writing into a file.
pub struct Timeline {
    child: Child,
    file: PathBuf,
    read_up_to: u64,
    /// Incomplete last line from the previous read.
    carry: String,
    /// (time in ns, surface id) of each `core_flush_damage` point read so far.
    flushes: Vec<(u64, u64)>,
    /// Surfaces of the desktop shell (panel, background): not video.
    shell_surfaces: HashSet<u64>,
}

impl Timeline {
    /// Subscribe to `weston`'s timeline, writing into `file`.
    pub fn start(weston: &HeadlessWeston, file: &Path) -> Result<Timeline, BenchError> {
        let _ = std::fs::remove_file(file);
        let mut child = Command::new("weston-debug")
            .arg("-o")
            .arg(file)
            .arg("timeline")
            .env("XDG_RUNTIME_DIR", weston.runtime_dir())
            .env("WAYLAND_DISPLAY", weston.socket_name())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_error(
                "starting weston-debug (package weston) for the compositor's frame count",
            ))?;
        // It exits at once when the compositor has no debug protocol.
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                return Err(BenchError::Child(format!(
                    "weston-debug exited ({status}): {}",
                    stderr.trim()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Timeline {
            child,
            file: file.to_path_buf(),
            read_up_to: 0,
            carry: String::new(),
            flushes: Vec::new(),
            shell_surfaces: HashSet::new(),
        })
    }

    /// Frames drawn from client surfaces (not the shell's) between two
    /// CLOCK_MONOTONIC times, in nanoseconds.
    pub fn frames_drawn(&mut self, from_ns: u64, to_ns: u64) -> Result<u64, BenchError> {
        self.read_new()?;
        let count = self
            .flushes
            .iter()
            .filter(|(t, surface)| {
                *t >= from_ns && *t <= to_ns && !self.shell_surfaces.contains(surface)
            })
            .count() as u64;
        // Points before this window are never asked for again.
        self.flushes.retain(|(t, _)| *t > to_ns);
        Ok(count)
    }

    fn read_new(&mut self) -> Result<(), BenchError> {
        let mut file = std::fs::File::open(&self.file)
            .map_err(io_error(format!("opening {}", self.file.display())))?;
        file.seek(SeekFrom::Start(self.read_up_to))
            .map_err(io_error(format!("seeking in {}", self.file.display())))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_error(format!("reading {}", self.file.display())))?;
        self.read_up_to += bytes.len() as u64;
        let text = std::mem::take(&mut self.carry) + &String::from_utf8_lossy(&bytes);
        let mut lines: Vec<&str> = text.split('\n').collect();
        // The last piece has no newline yet: keep it for the next read.
        self.carry = lines.pop().unwrap_or_default().to_owned();
        for line in lines {
            match parse_line(line) {
                Some(Point::Flush { ns, surface }) => self.flushes.push((ns, surface)),
                Some(Point::Surface { id, desc }) if is_shell_surface(&desc) => {
                    self.shell_surfaces.insert(id);
                }
                Some(Point::Surface { .. }) | None => {}
            }
        }
        Ok(())
    }
}

impl Drop for Timeline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, PartialEq)]
enum Point {
    Flush { ns: u64, surface: u64 },
    Surface { id: u64, desc: String },
}

/// One line of the timeline: `{ "T":[s, ns], "N":"name", "ws":id, ... }`
/// or an object description `{ "id":1, "type":"weston_surface", "desc":"..." }`.
fn parse_line(line: &str) -> Option<Point> {
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    if value.get("type").and_then(|t| t.as_str()) == Some("weston_surface") {
        return Some(Point::Surface {
            id: value.get("id")?.as_u64()?,
            desc: value
                .get("desc")
                .and_then(|d| d.as_str())
                .unwrap_or_default()
                .to_owned(),
        });
    }
    if value.get("N")?.as_str()? != "core_flush_damage" {
        return None;
    }
    let time = value.get("T")?.as_array()?;
    // Weston's timeline file: a line with an absurd time is skipped.
    let ns = time
        .first()?
        .as_u64()?
        .checked_mul(1_000_000_000)?
        .checked_add(time.get(1)?.as_u64()?)?;
    Some(Point::Flush {
        ns,
        surface: value.get("ws")?.as_u64()?,
    })
}

fn is_shell_surface(desc: &str) -> bool {
    let desc = desc.to_ascii_lowercase();
    desc.contains("panel") || desc.contains("background") || desc.contains("lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_lines_parse() {
        assert_eq!(
            parse_line(r#"{ "T":[12128, 889165604], "N":"core_flush_damage", "ws":3, "wo":2 }"#),
            Some(Point::Flush {
                ns: 12_128_889_165_604,
                surface: 3
            })
        );
        assert_eq!(
            parse_line(r#"{ "T":[1, 2], "N":"core_commit_damage", "ws":3 }"#),
            None
        );
        assert_eq!(
            parse_line(
                r#"{ "id":1, "type":"weston_surface", "desc":"top-level window 'zc' of zc" }"#
            ),
            Some(Point::Surface {
                id: 1,
                desc: "top-level window 'zc' of zc".to_owned()
            })
        );
        assert_eq!(parse_line("garbage"), None);
        assert!(is_shell_surface("panel for output headless"));
        assert!(!is_shell_surface("sub-surface"));
    }
}
