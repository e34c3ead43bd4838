//! What runs: the clips every decoding case needs (encoded before any
//! measurement), and every case of the matrix with what keeps it from
//! running (a clip, an exclusion, no compositor, a missing element)
//! decided up front.

use std::collections::BTreeMap;
use std::path::PathBuf;

use indicatif::ProgressBar;

use crate::bench::clips;
use crate::bench::matrix::{CaseSpec, PathKind, Size, Source};
use crate::bench::report::{CaseResult, CaseStatus};

use super::Options;
use super::compositor::RunningCompositor;

/// Elements a path or source needs, with the package that has them.
fn needed_elements(source: Source, path: PathKind) -> Vec<(&'static str, &'static str)> {
    let mut needed = vec![("videotestsrc", "gstreamer1.0-plugins-base")];
    match source {
        Source::Raw => {}
        Source::H264 => needed.extend([
            ("qtdemux", "gstreamer1.0-plugins-good"),
            ("h264parse", "gstreamer1.0-plugins-bad"),
            ("avdec_h264", "gstreamer1.0-libav"),
        ]),
        Source::Vp9 => needed.extend([
            ("matroskademux", "gstreamer1.0-plugins-good"),
            ("avdec_vp9", "gstreamer1.0-libav"),
        ]),
    }
    match path {
        PathKind::Waylandsink => needed.push(("waylandsink", "gstreamer1.0-plugins-bad")),
        PathKind::Videoconvert => needed.extend([
            ("videoconvert", "gstreamer1.0-plugins-base"),
            ("waylandsink", "gstreamer1.0-plugins-bad"),
        ]),
        PathKind::Copy => needed.push(("identity", "gstreamer1.0 (core)")),
        _ => {}
    }
    needed
}

fn missing_element(source: Source, path: PathKind) -> Option<String> {
    needed_elements(source, path)
        .into_iter()
        .find(|(name, _)| gst::ElementFactory::find(name).is_none())
        .map(|(name, package)| {
            format!("GStreamer element {name} is not installed (package {package})")
        })
}

/// Clips for every decoding source, size and frame count the matrix uses.
pub fn encode_clips(
    options: &Options,
    bar: &ProgressBar,
) -> BTreeMap<(Source, Size, u32), Result<Option<PathBuf>, String>> {
    let mut clips = BTreeMap::new();
    for &source in options.sources.iter().filter(|s| s.needs_clip()) {
        for &size in &options.sizes {
            for &path in &options.paths {
                if options.excluded.contains(&(source, path)) {
                    continue;
                }
                let frames = options.frames_for_path(size, path);
                if clips.contains_key(&(source, size, frames)) {
                    continue;
                }
                bar.set_message(format!(
                    "encoding the {source} {size} clip ({frames} frames)"
                ));
                // A paced run plays clips at their own rate: encode at the pace.
                let fps = options.pace.unwrap_or((30, 1));
                let clip = clips::ensure_clip(&options.clips_dir, source, size, frames, fps)
                    .map_err(|e| e.to_string());
                clips.insert((source, size, frames), clip);
            }
        }
    }
    clips
}

/// Every case, with what keeps it from running decided up front.
pub(super) fn cases(
    options: &Options,
    clips: &BTreeMap<(Source, Size, u32), Result<Option<PathBuf>, String>>,
    compositor: Option<&RunningCompositor>,
    compositor_error: Option<&str>,
    dma_buf: bool,
) -> Vec<(CaseSpec, CaseResult)> {
    let mut cases = Vec::new();
    for &source in &options.sources {
        for &size in &options.sizes {
            for &path in &options.paths {
                let frames = options.frames_for_path(size, path);
                let clip = clips
                    .get(&(source, size, frames))
                    .cloned()
                    .unwrap_or(Ok(None));
                let display = compositor
                    .as_ref()
                    .filter(|_| path.uses_compositor())
                    .map(|c| (c.weston.socket_path(), c.weston.pid()));
                let spec = CaseSpec::new(
                    source,
                    size,
                    path,
                    frames,
                    options.warmup,
                    clip.as_ref().ok().and_then(|c| c.as_deref()),
                    display
                        .as_ref()
                        .map(|(socket, pid)| (socket.as_path(), *pid)),
                )
                .paced(options.pace);
                let reason = if let Err(e) = &clip {
                    Some(e.clone())
                } else if options.excluded.contains(&(source, path)) {
                    Some(options.excluded_because.clone())
                } else if path.uses_compositor()
                    && let Some(e) = &compositor_error
                {
                    Some(format!("no compositor: {e}"))
                } else {
                    missing_element(source, path)
                };
                let (width, height) = size.dimensions();
                let mut spec = spec;
                spec.stall_timeout_s = options.stall_timeout.as_secs();
                let pipeline = spec.pipeline.clone();
                cases.push((
                    spec,
                    CaseResult {
                        source,
                        size,
                        width,
                        height,
                        path,
                        frames,
                        pipeline,
                        status: if reason.is_some() {
                            CaseStatus::NotRun
                        } else {
                            CaseStatus::Ran
                        },
                        reason,
                        known_copies: path.known_copies(source, dma_buf),
                        samples: Vec::new(),
                        summary: None,
                    },
                ));
            }
        }
    }
    cases
}
