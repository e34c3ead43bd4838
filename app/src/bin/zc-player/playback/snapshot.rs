//! Snapshots: zcthumbnail asked for a frame at full size, the file moved
//! where it was asked for, and requests that wait too long failed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gst::prelude::*;
use zc_app::files::move_into_place;
use zc_app::player::ipc::Reply;

use super::Player;

/// A snapshot asked for and not yet written.
pub(super) struct PendingSnapshot {
    path: PathBuf,
    pub(super) reply: Option<std::sync::mpsc::Sender<Reply>>,
    asked: Instant,
    /// When the paused frame was last sent again for it.
    refreshed: Instant,
}

/// How long a snapshot may wait for its frame.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a snapshot waits, paused, before the paused frame is asked
/// for again (the encoder may have been busy; a seek may bring nothing).
const SNAPSHOT_REFRESH: Duration = Duration::from_secs(5);

/// Why an audio-only entry takes no snapshot.
pub(super) const NO_VIDEO: &str = "this entry has no video to take a snapshot of";

impl Player {
    /// Answer every snapshot still waiting with `why` it never comes.
    pub(super) fn fail_snapshots(&mut self, why: &str) {
        for pending in self.snapshots.drain(..) {
            if let Some(reply) = pending.reply {
                let _ = reply.send(Err(why.to_owned()));
            }
        }
    }

    /// Ask zcthumbnail for the next frame at full size; the file lands in
    /// `path` (or `zc-snapshot-N.png` here) once written.
    pub fn snapshot(
        &mut self,
        path: Option<PathBuf>,
        reply: Option<std::sync::mpsc::Sender<Reply>>,
    ) -> Result<(), String> {
        if self.audio_only() {
            return Err(NO_VIDEO.to_owned());
        }
        let path = match path {
            Some(p) => p,
            None => {
                self.next_snapshot += 1;
                PathBuf::from(format!(
                    "zc-snapshot-{}-{}.png",
                    std::process::id(),
                    self.next_snapshot
                ))
            }
        };
        let jpeg = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(format!(
                "cannot write a snapshot to {}: the folder {} does not exist",
                path.display(),
                parent.display()
            ));
        }
        self.elements
            .snapshot
            .set_property_from_str("format", if jpeg { "jpeg" } else { "png" });
        let now = Instant::now();
        self.snapshots.push_back(PendingSnapshot {
            path,
            reply,
            asked: now,
            refreshed: now,
        });
        if self.prerolled && self.wanted != gst::State::Playing {
            self.take_paused_frame();
        } else {
            // Playing: the next frame comes at once.
            self.elements.snapshot.emit_by_name::<()>("snapshot", &[]);
        }
        Ok(())
    }

    /// Paused, no new frame would come: zcthumbnail takes the frame that
    /// passed it last (the one on screen). If it has none (or is busy),
    /// seek to where we are, which sends a frame again. That is only a
    /// fallback: the sink may preroll on a GAP event and hold the
    /// streaming thread before the frame reaches zcthumbnail.
    fn take_paused_frame(&mut self) {
        if self
            .elements
            .snapshot
            .emit_by_name::<bool>("snapshot-last", &[])
        {
            return;
        }
        let seeked = self
            .elements
            .pipeline
            .query_position::<gst::ClockTime>()
            .is_some_and(|position| {
                self.seek_at(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, position)
                    .is_ok()
            });
        if !seeked {
            eprintln!(
                "zc-player: snapshot: cannot seek to the paused frame; the next frame will be taken"
            );
        }
    }

    /// A `zc-thumbnail` message: move the file where it was asked for.
    pub(super) fn snapshot_written(&mut self, location: &Path) {
        let Some(pending) = self.snapshots.pop_front() else {
            let _ = std::fs::remove_file(location);
            return;
        };
        // Never through a link planted at the path: it is replaced.
        let result = move_into_place(location, &pending.path)
            .map_err(|e| format!("cannot write {}: {e}", pending.path.display()));
        let _ = std::fs::remove_file(location);
        match &result {
            Ok(()) => eprintln!("zc-player: snapshot written to {}", pending.path.display()),
            Err(e) => eprintln!("zc-player: {e}"),
        }
        if let Some(reply) = pending.reply {
            let _ = reply.send(result.map(|()| {
                let mut fields = serde_json::Map::new();
                fields.insert(
                    "path".into(),
                    pending.path.to_string_lossy().into_owned().into(),
                );
                fields
            }));
        }
    }

    /// Fail snapshots that waited too long (e.g. asked for after EOS), and
    /// send the paused frame again for one that waits.
    pub fn expire_snapshots(&mut self) {
        let paused = self.prerolled && self.wanted != gst::State::Playing;
        let waiting = self.snapshots.front().filter(|pending| {
            pending.refreshed.elapsed() > SNAPSHOT_REFRESH
                && pending.asked.elapsed() < SNAPSHOT_TIMEOUT
        });
        if let Some(pending) = waiting
            && paused
        {
            eprintln!(
                "zc-player: snapshot {}: no frame after {} s ({}); asking for the paused frame again",
                pending.path.display(),
                pending.asked.elapsed().as_secs(),
                self.describe_state()
            );
            self.take_paused_frame();
            if let Some(pending) = self.snapshots.front_mut() {
                pending.refreshed = Instant::now();
            }
        }
        while self
            .snapshots
            .front()
            .is_some_and(|p| p.asked.elapsed() > SNAPSHOT_TIMEOUT)
        {
            if let Some(pending) = self.snapshots.pop_front() {
                let message = format!(
                    "no frame reached the snapshot element within {} s (at the end of the stream?; {})",
                    SNAPSHOT_TIMEOUT.as_secs(),
                    self.describe_state()
                );
                eprintln!("zc-player: snapshot {}: {message}", pending.path.display());
                if let Some(reply) = pending.reply {
                    let _ = reply.send(Err(message));
                }
            }
        }
    }

    /// The pipeline's state and pending state, and the state change's
    /// last result, for messages about a stuck request.
    fn describe_state(&self) -> String {
        let (result, current, pending) = self.elements.pipeline.state(gst::ClockTime::ZERO);
        format!("pipeline {current:?}, pending {pending:?}, last change {result:?}")
    }
}
