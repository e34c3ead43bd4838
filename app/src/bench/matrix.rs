//! What the benchmark runs: sources, sizes and paths, and the pipeline each
//! combination becomes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::BenchError;

/// Where the frames come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `videotestsrc pattern=smpte` in NV12: no decoding cost.
    Raw,
    /// An H.264 clip decoded by `avdec_h264` (I420).
    H264,
    /// A VP9 clip decoded by `avdec_vp9` (I420).
    Vp9,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Raw, Source::H264, Source::Vp9];

    pub fn name(self) -> &'static str {
        match self {
            Source::Raw => "raw",
            Source::H264 => "h264",
            Source::Vp9 => "vp9",
        }
    }

    /// A sentence for reports: what the source element is.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Raw => "videotestsrc pattern=smpte, NV12 (no decoding)",
            Source::H264 => "H.264 clip (x264enc), decoded by avdec_h264 into I420",
            Source::Vp9 => "VP9 clip (vp9enc), decoded by avdec_vp9 into I420",
        }
    }

    /// The decoded format reaching the path.
    pub fn format(self) -> &'static str {
        match self {
            Source::Raw => "NV12",
            Source::H264 | Source::Vp9 => "I420",
        }
    }

    pub fn needs_clip(self) -> bool {
        self != Source::Raw
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Source {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "raw" => Ok(Source::Raw),
            "h264" | "h.264" => Ok(Source::H264),
            "vp9" => Ok(Source::Vp9),
            other => Err(BenchError::Usage(format!(
                "unknown source `{other}`: use raw, h264 or vp9"
            ))),
        }
    }
}

/// A frame size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Size {
    #[serde(rename = "720p")]
    P720,
    #[serde(rename = "1080p")]
    P1080,
    #[serde(rename = "4k")]
    K4,
    #[serde(rename = "8k")]
    K8,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::P720, Size::P1080, Size::K4, Size::K8];

    pub fn name(self) -> &'static str {
        match self {
            Size::P720 => "720p",
            Size::P1080 => "1080p",
            Size::K4 => "4k",
            Size::K8 => "8k",
        }
    }

    pub fn dimensions(self) -> (u32, u32) {
        match self {
            Size::P720 => (1280, 720),
            Size::P1080 => (1920, 1080),
            Size::K4 => (3840, 2160),
            Size::K8 => (7680, 4320),
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Size {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "720p" | "1280x720" => Ok(Size::P720),
            "1080p" | "1920x1080" => Ok(Size::P1080),
            "4k" | "2160p" | "3840x2160" => Ok(Size::K4),
            "8k" | "4320p" | "7680x4320" => Ok(Size::K8),
            other => Err(BenchError::Usage(format!(
                "unknown size `{other}`: use 720p, 1080p, 4k or 8k"
            ))),
        }
    }
}

/// How the frames reach the screen (or not, for the floor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathKind {
    /// `fakesink`: the source alone, the floor every other path is measured against.
    Fakesink,
    /// `zcexport ! zcwaylandsink`: the source writes into zc's pool, the
    /// compositor imports the same memory.
    ZeroCopy,
    /// `identity drop-allocation=true ! zcexport ! zcwaylandsink`: the source
    /// writes system memory that zcexport copies into zc's pool.
    Copy,
    /// `waylandsink`: GStreamer's own sink (wl_shm).
    Waylandsink,
    /// `videoconvert ! waylandsink`: GStreamer's usual way to show video.
    Videoconvert,
    /// `zcexport ! zcvulkanconvert ! zcwaylandsink`: YUV to RGBA on the GPU.
    Gpu,
}

impl PathKind {
    pub const ALL: [PathKind; 6] = [
        PathKind::Fakesink,
        PathKind::ZeroCopy,
        PathKind::Copy,
        PathKind::Waylandsink,
        PathKind::Videoconvert,
        PathKind::Gpu,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PathKind::Fakesink => "fakesink",
            PathKind::ZeroCopy => "zero-copy",
            PathKind::Copy => "copy",
            PathKind::Waylandsink => "waylandsink",
            PathKind::Videoconvert => "videoconvert",
            PathKind::Gpu => "gpu",
        }
    }

    /// Whether the path shows frames on the compositor.
    pub fn uses_compositor(self) -> bool {
        self != PathKind::Fakesink
    }

    /// Whether zc's elements count this path's copies.
    pub fn counted_by_zc(self) -> bool {
        matches!(self, PathKind::ZeroCopy | PathKind::Copy | PathKind::Gpu)
    }

    /// The elements after the source, as gst-launch syntax. `display` is the
    /// compositor's socket path.
    pub fn tail(self, display: &Path) -> String {
        let display = display.display();
        // sync=false: as fast as the machine goes; the sinks never block on
        // the compositor (a newer frame replaces one not yet committed).
        match self {
            PathKind::Fakesink => "fakesink name=sink sync=false".to_owned(),
            PathKind::ZeroCopy => {
                format!(
                    "zcexport name=export ! zcwaylandsink name=sink sync=false display={display}"
                )
            }
            PathKind::Copy => format!(
                "identity drop-allocation=true ! zcexport name=export \
                 ! zcwaylandsink name=sink sync=false display={display}"
            ),
            PathKind::Waylandsink => format!("waylandsink name=sink sync=false display={display}"),
            PathKind::Videoconvert => {
                format!("videoconvert ! waylandsink name=sink sync=false display={display}")
            }
            PathKind::Gpu => format!(
                "zcexport name=export ! zcvulkanconvert name=convert \
                 ! zcwaylandsink name=sink sync=false display={display}"
            ),
        }
    }

    /// Copies this path makes that no counter sees, as sentences. `dma_buf`:
    /// whether zc's memory is a dma-buf here (else a memfd through wl_shm).
    pub fn known_copies(self, source: Source, dma_buf: bool) -> Vec<String> {
        let mut copies = Vec::new();
        let shm_upload = "the compositor uploads every wl_shm frame it draws into a GL texture \
                          (one frame-sized copy per composited frame, inside Weston)";
        match self {
            PathKind::Fakesink => {}
            PathKind::ZeroCopy | PathKind::Copy | PathKind::Gpu => {
                if dma_buf {
                    copies.push(
                        "none in the client: Weston's GL renderer imports the dma-buf as an EGLImage \
                         (llvmpipe then samples it from memory while drawing)"
                            .to_owned(),
                    );
                } else {
                    copies.push(format!(
                        "{shm_upload}; memfd frames reach it without a copy"
                    ));
                }
            }
            PathKind::Waylandsink | PathKind::Videoconvert => {
                copies.push(format!(
                    "{shm_upload}; dma-bufs (from upstream, or GStreamer 1.28's udmabuf pool) it \
                     imports without one"
                ));
                copies.push(
                    "waylandsink hands the compositor dma-bufs and a frame in one fd (its own \
                     pool's, a memfd) as they are, and copies a frame in system memory or in \
                     several fds into its wl_shm pool (counted here from the memory each frame \
                     arrives in, as `inferred`)"
                        .to_owned(),
                );
            }
        }
        if self == PathKind::Videoconvert {
            copies.push(
                "videoconvert passes frames through when input and output formats match \
                 (they do here), so it adds no copy of its own"
                    .to_owned(),
            );
        }
        if self == PathKind::Gpu {
            copies.push(
                "zcvulkanconvert writes an RGBA frame per input frame (a conversion, done by \
                 the Vulkan device; lavapipe runs it on the CPU, in the pipeline process)"
                    .to_owned(),
            );
        }
        if source != Source::Raw {
            copies.push(
                "the decoder writes into the downstream pool when libav's direct rendering can use \
                 it; a frame libav still references is deep-copied by GstVideoDecoder \
                 (counted by zcexport only if that copy lands in system memory)"
                    .to_owned(),
            );
        }
        copies
    }
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PathKind {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fakesink" | "floor" => Ok(PathKind::Fakesink),
            "zero-copy" | "zerocopy" | "zc" => Ok(PathKind::ZeroCopy),
            "copy" => Ok(PathKind::Copy),
            "waylandsink" => Ok(PathKind::Waylandsink),
            "videoconvert" | "videoconvert-waylandsink" => Ok(PathKind::Videoconvert),
            "gpu" | "vulkan" => Ok(PathKind::Gpu),
            other => Err(BenchError::Usage(format!(
                "unknown path `{other}`: use fakesink, zero-copy, copy, waylandsink, videoconvert or gpu"
            ))),
        }
    }
}

/// The matrix and frame counts used when the command line does not say:
/// per mode (full or `--quick`) and per machine, because everything inside
/// the VM runs 50-100x slower than natively (software emulation; llvmpipe
/// and lavapipe take seconds per frame there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defaults {
    pub sources: Vec<Source>,
    pub sizes: Vec<Size>,
    pub repetitions: u32,
    pub warmup: u32,
    /// Source and path pairs left out (and why): what does not fit the
    /// VM's `--quick` run.
    pub excluded: Vec<(Source, PathKind)>,
    pub excluded_because: &'static str,
    vm: bool,
    quick: bool,
}

impl Defaults {
    pub fn new(quick: bool, vm: bool) -> Defaults {
        match (quick, vm) {
            (false, _) => Defaults {
                sources: Source::ALL.to_vec(),
                sizes: vec![Size::P720, Size::P1080, Size::K4],
                repetitions: 5,
                warmup: if vm { 4 } else { 10 },
                excluded: Vec::new(),
                excluded_because: "",
                vm,
                quick,
            },
            (true, false) => Defaults {
                sources: vec![Source::Raw, Source::H264],
                sizes: vec![Size::P720, Size::P1080],
                repetitions: 3,
                warmup: 10,
                excluded: Vec::new(),
                excluded_because: "",
                vm,
                quick,
            },
            // About twenty minutes in the VM, where a case takes 40-90 s (the
            // raw source paced at a frame a second, start-up: loading
            // gst-libav alone takes 10-30 s per process, lavapipe seconds per
            // frame): 720p, two repetitions, every path with the raw source,
            // and with H.264 the four that answer "does the decoder's output
            // reach the compositor uncopied, with zc and without".
            (true, true) => Defaults {
                sources: vec![Source::Raw, Source::H264],
                sizes: vec![Size::P720],
                repetitions: 2,
                warmup: 4,
                // H.264 straight into stock waylandsink stays: on
                // GStreamer 1.28 that is the distribution's own zero-copy.
                excluded: vec![
                    (Source::H264, PathKind::Videoconvert),
                    (Source::H264, PathKind::Gpu),
                ],
                excluded_because: "left out of --quick in the VM to keep it short (each case \
                                   there loads gst-libav for 10-30 s; lavapipe takes seconds per \
                                   frame); the full matrix runs it",
                vm,
                quick,
            },
        }
    }

    /// Seconds without a frame reaching the sink before a case is given
    /// up (under emulation lavapipe's first frame alone takes half a minute).
    pub fn stall_timeout_s(&self) -> u64 {
        if self.vm { 600 } else { 60 }
    }

    /// Seconds before a whole case is stopped.
    pub fn case_timeout_s(&self) -> u64 {
        if self.vm { 3600 } else { 600 }
    }

    /// The raw source's pace when none is given: in the VM one frame a
    /// second, which llvmpipe under emulation draws every one of (unpaced,
    /// Weston drew 0 to 2 of 20 frames there and its figures were noise);
    /// natively none (as fast as the machine goes).
    pub fn pace(&self) -> Option<(u32, u32)> {
        self.vm.then_some((1, 1))
    }

    /// Whether these are the VM's (smaller) defaults.
    pub fn is_vm(&self) -> bool {
        self.vm
    }

    /// Frames per case (warm-up included) for a size. Natively the
    /// window should last a second or more (the compositor draws at most 60
    /// frames a second, and its figures rest on those); in the VM every
    /// frame takes 0.1-0.5 s, so far fewer.
    pub fn frames(&self, size: Size) -> u32 {
        match (self.vm, self.quick, size) {
            (false, false, Size::P720) => 1200,
            (false, false, Size::P1080) => 600,
            (false, false, Size::K4) => 200,
            (false, false, Size::K8) => 60,
            (false, true, Size::P720) => 400,
            (false, true, Size::P1080) => 200,
            (false, true, Size::K4) => 80,
            (false, true, Size::K8) => 30,
            // Paced in the VM (see `pace`): 4 warm-up frames and at least
            // 30 the compositor draws.
            (true, false, Size::P720) => 40,
            (true, false, _) => 36,
            (true, true, _) => 36,
        }
    }

    /// Frames for one path: the GPU path gets a quarter natively and half
    /// in the VM (lavapipe, the CPU Vulkan driver on machines without a
    /// GPU, converts 15-30 1080p frames a second natively and takes seconds
    /// per frame under emulation), never fewer than 20 (natively) or 5
    /// (VM) measured frames.
    pub fn frames_for_path(&self, path: PathKind, frames: u32, warmup: u32) -> u32 {
        if path != PathKind::Gpu {
            return frames;
        }
        let (share, least) = if self.vm { (2, 5) } else { (4, 20) };
        (frames / share).max(warmup + least).min(frames)
    }
}

/// Parse a comma-separated list (`raw,h264`), keeping the canonical order
/// and dropping repeats.
pub fn parse_list<T: FromStr<Err = BenchError> + Ord + Copy>(
    text: &str,
) -> Result<Vec<T>, BenchError> {
    let mut items: Vec<T> = text
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if items.is_empty() {
        return Err(BenchError::Usage(format!("`{text}` names nothing")));
    }
    items.sort();
    items.dedup();
    Ok(items)
}

/// The source part of a case's pipeline.
pub fn source_head(source: Source, size: Size, frames: u32, clip: Option<&Path>) -> String {
    let (width, height) = size.dimensions();
    match (source, clip) {
        (Source::Raw, _) | (_, None) => format!(
            "videotestsrc num-buffers={frames} pattern=smpte is-live=false \
             ! video/x-raw,format=NV12,width={width},height={height},framerate=30/1"
        ),
        (Source::H264, Some(clip)) => format!(
            "filesrc location={} ! qtdemux ! h264parse ! avdec_h264",
            clip.display()
        ),
        (Source::Vp9, Some(clip)) => format!(
            "filesrc location={} ! matroskademux ! avdec_vp9",
            clip.display()
        ),
    }
}

/// One case as the child process runs it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseSpec {
    pub source: Source,
    pub size: Size,
    pub path: PathKind,
    /// The whole pipeline, gst-launch syntax.
    pub pipeline: String,
    /// Frames the source produces (warm-up included).
    pub frames: u32,
    /// Frames at the start that are not measured.
    pub warmup: u32,
    /// The compositor's pid, to read its CPU time at the window's edges.
    pub compositor_pid: Option<u32>,
    /// The encoded clip decoding sources read.
    pub clip: Option<PathBuf>,
    /// Give up when no frame reached the sink for this long (seconds).
    pub stall_timeout_s: u64,
    /// The rate when paced (numerator and denominator), so that a slow
    /// compositor is ready for every frame: the raw source is live at it,
    /// a decoded clip (encoded at that rate) goes through `identity
    /// sync=true`; `None`: as fast as the machine goes.
    #[serde(default)]
    pub pace: Option<(u32, u32)>,
}

impl CaseSpec {
    pub fn new(
        source: Source,
        size: Size,
        path: PathKind,
        frames: u32,
        warmup: u32,
        clip: Option<&Path>,
        compositor: Option<(&Path, u32)>,
    ) -> CaseSpec {
        let display = compositor
            .map(|(socket, _)| socket.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("wayland-0"));
        CaseSpec {
            source,
            size,
            path,
            pipeline: format!(
                "{} ! {}",
                source_head(source, size, frames, clip),
                path.tail(&display)
            ),
            frames,
            warmup,
            compositor_pid: compositor.map(|(_, pid)| pid),
            clip: clip.map(Path::to_path_buf),
            stall_timeout_s: 60,
            pace: None,
        }
    }

    /// The same case paced at `pace` frames a second: the raw source live
    /// at that rate; a decoded clip (which must have been encoded at that
    /// rate) released on the clock by `identity sync=true` after the
    /// decoder (the sink stays `sync=false`: nothing is dropped as late).
    pub fn paced(mut self, pace: Option<(u32, u32)>) -> CaseSpec {
        self.pace = pace;
        let Some((num, den)) = pace else {
            return self;
        };
        self.pipeline = if self.source == Source::Raw {
            self.pipeline
                .replace("is-live=false", "is-live=true")
                .replace("framerate=30/1", &format!("framerate={num}/{den}"))
        } else {
            let head = source_head(self.source, self.size, self.frames, self.clip.as_deref());
            self.pipeline
                .replacen(&head, &format!("{head} ! identity name=pace sync=true"), 1)
        };
        self
    }

    /// The same case on another compositor (after the first one died).
    pub fn retarget(&mut self, socket: &Path, pid: u32) {
        let stall_timeout_s = self.stall_timeout_s;
        *self = CaseSpec::new(
            self.source,
            self.size,
            self.path,
            self.frames,
            self.warmup,
            self.clip.clone().as_deref(),
            Some((socket, pid)),
        )
        .paced(self.pace);
        self.stall_timeout_s = stall_timeout_s;
    }
}

#[cfg(test)]
mod tests;
