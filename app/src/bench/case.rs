//! One case, run inside its own process (`zc-bench --run-case`): play the
//! pipeline to EOS and measure the window between the end of the warm-up
//! and EOS at the sink.
//!
//! The window's edges are taken in a pad probe on the sink's sink pad: when
//! the first measured frame arrives, and when EOS arrives (after the last
//! frame was rendered, before the sink's own EOS handling, which for
//! zcwaylandsink waits for the compositor to release every frame).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use serde::{Deserialize, Serialize};

use super::BenchError;
use super::matrix::{CaseSpec, PathKind};
use super::measure::{self, CpuTime};
use crate::lock;

/// What memory frames were in when they reached the sink.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryCounts {
    /// GstDmaBufMemory (zc's heap/udmabuf/GBM frames, or anyone's dma-buf).
    pub dmabuf: u64,
    /// waylandsink's own wl_shm pool memory (GStreamer 1.22).
    pub wl_shm: u64,
    /// Other memory in one fd: zc's memfd frames, waylandsink's own pool
    /// on GStreamer 1.26 (GstShmAllocator's memfds; 1.28's gives udmabufs
    /// where it can).
    pub fd: u64,
    /// Plain system memory, or a frame in several fd memories: neither can
    /// be one wl_shm buffer, so waylandsink copies these.
    pub system: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemoryClass {
    DmaBuf,
    WlShm,
    Fd,
    System,
}

fn classify(buffer: &gst::BufferRef) -> MemoryClass {
    let memories: Vec<&gst::MemoryRef> = buffer.iter_memories().collect();
    let all = |check: &dyn Fn(&gst::MemoryRef) -> bool| {
        !memories.is_empty() && memories.iter().all(|m| check(m))
    };
    if all(&|m| m.is_memory_type::<gst_allocators::DmaBufMemory>()) {
        MemoryClass::DmaBuf
    } else if all(&|m| {
        m.allocator()
            .is_some_and(|a| a.type_().name().contains("WlShm"))
    }) {
        MemoryClass::WlShm
    } else if memories.len() == 1 && all(&|m| m.is_memory_type::<gst_allocators::FdMemory>()) {
        MemoryClass::Fd
    } else {
        MemoryClass::System
    }
}

impl MemoryCounts {
    /// The frames stock waylandsink copies into its wl_shm pool: those in
    /// system memory or in several fds. Dma-bufs and a frame in one fd (its
    /// own pool's included) it hands to the compositor as they are.
    pub fn copied_by_waylandsink(&self) -> u64 {
        self.system
    }

    fn add(&mut self, class: MemoryClass) {
        match class {
            MemoryClass::DmaBuf => self.dmabuf += 1,
            MemoryClass::WlShm => self.wl_shm += 1,
            MemoryClass::Fd => self.fd += 1,
            MemoryClass::System => self.system += 1,
        }
    }
}

/// Where a case's process spent its wall time besides the window, in
/// seconds: what makes cases slow to run (under emulation mostly start-up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Phases {
    /// GStreamer initialisation (registry) and plugin registration.
    pub init: f64,
    /// Building the pipeline (loading the plugins it uses).
    pub build: f64,
    /// From PLAYING to the first frame at the sink (linking, allocation,
    /// the compositor connection and window).
    pub start: f64,
    /// The warm-up frames.
    pub warmup: f64,
    /// From EOS at the sink to EOS on the bus (zcwaylandsink waits there
    /// for the compositor to release its frames).
    pub drain: f64,
    /// Stopping and freeing the pipeline.
    pub teardown: f64,
}

/// One measured run of a case, as the child reports it. The parent adds the
/// compositor's frame count from Weston's timeline.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sample {
    pub repetition: u32,
    /// Frames that reached the sink, warm-up included.
    pub frames_total: u64,
    /// Frames inside the measured window.
    pub frames_measured: u64,
    pub wall_s: f64,
    pub fps: f64,
    pub pipeline_user_us: f64,
    pub pipeline_sys_us: f64,
    /// (user + sys) of the pipeline process in the window, per measured frame.
    pub pipeline_cpu_us_per_frame: f64,
    /// The compositor's CPU time (all its threads) in the window.
    pub compositor_cpu_us: Option<f64>,
    /// The same per measured (produced) frame.
    pub compositor_cpu_us_per_frame: Option<f64>,
    /// Frames the compositor drew from the video surface in the window
    /// (Weston's timeline `core_flush_damage` points).
    pub frames_composited: Option<u64>,
    /// Compositor CPU time per frame it drew: what handling one frame costs it.
    pub compositor_cpu_us_per_composited_frame: Option<f64>,
    /// Bytes zc's elements copied in the window (zcexport + zcwaylandsink);
    /// none for paths without zc elements.
    pub bytes_copied: Option<u64>,
    pub bytes_copied_per_frame: Option<f64>,
    /// Of those, zcexport's (system memory into its pool).
    pub export_bytes_copied: Option<u64>,
    /// Of those, zcwaylandsink's (memory the compositor could not take).
    pub sink_bytes_copied: Option<u64>,
    /// Bytes waylandsink copies into its wl_shm pool, inferred from the
    /// memory frames arrive in (stock sinks count nothing themselves): it
    /// hands dma-bufs and a frame in one fd to the compositor as they are
    /// when the compositor takes their format and layout, and copies the
    /// rest (its `render`, every version since 1.22).
    pub bytes_copied_inferred_per_frame: Option<f64>,
    /// Memory of the frames reaching the sink in the window.
    pub memory_at_sink: MemoryCounts,
    /// zcwaylandsink's `path` at the end: dmabuf, shm or copy.
    pub sink_path: Option<String>,
    /// zcwaylandsink's mean commit-to-presentation time (wp_presentation).
    pub latency_us: Option<u64>,
    pub frames_presented: Option<u64>,
    pub frames_discarded: Option<u64>,
    /// Peak resident set size of the pipeline process.
    pub peak_rss_kib: u64,
    /// Open fds before the pipeline was built and after it was torn down.
    pub fds_before: u64,
    pub fds_end: u64,
    /// Wall time of the phases outside the window.
    pub phases_s: Phases,
    /// Wall time of the whole case process (start-up, warm-up, teardown
    /// included), as the parent saw it.
    pub process_wall_s: f64,
    /// The window in CLOCK_MONOTONIC nanoseconds (Weston's timeline clock).
    pub window_start_ns: u64,
    pub window_end_ns: u64,
}

/// The state at one edge of the window.
#[derive(Clone, Debug)]
struct Snapshot {
    instant: Instant,
    monotonic_ns: u64,
    cpu: CpuTime,
    compositor: Option<Duration>,
    export_bytes: Option<u64>,
    sink_bytes: Option<u64>,
}

#[derive(Default)]
struct Window {
    frames: u64,
    first_frame: Option<Instant>,
    /// zcexport's bytes-copied when the last warm-up frame reached the sink
    /// (see `play`).
    export_bytes_before: Option<u64>,
    start: Option<Snapshot>,
    end: Option<Snapshot>,
    memory: MemoryCounts,
    frame_size: Option<u64>,
    /// The first error a snapshot met (e.g. the compositor died).
    error: Option<String>,
}

fn counter(element: Option<&gst::Element>, name: &str) -> Option<u64> {
    let element = element?;
    element.find_property(name)?;
    Some(element.property::<u64>(name))
}

fn snapshot(
    export: Option<&gst::Element>,
    sink: &gst::Element,
    compositor_pid: Option<u32>,
) -> Result<Snapshot, BenchError> {
    let cpu = measure::own_cpu_time()?;
    let compositor = compositor_pid.map(measure::process_cpu_time).transpose()?;
    Ok(Snapshot {
        instant: Instant::now(),
        monotonic_ns: measure::monotonic_ns(),
        cpu,
        compositor,
        export_bytes: counter(export, "bytes-copied"),
        sink_bytes: counter(Some(sink), "bytes-copied"),
    })
}

/// An error message as "element: error (debug detail)".
fn error_text(message: &gst::Message) -> Option<String> {
    let gst::MessageView::Error(e) = message.view() else {
        return None;
    };
    let source = e
        .src()
        .map(|s| s.name().to_string())
        .unwrap_or_else(|| "an element".to_owned());
    // GStreamer's debug text is "file(line): function (): /element/path:" and
    // then the detail, if any, on the lines after: keep only the detail.
    let debug = e
        .debug()
        .and_then(|d| {
            d.split_once('\n')
                .map(|(_, detail)| detail.trim().to_owned())
        })
        .filter(|detail| !detail.is_empty())
        .map(|detail| format!(" ({detail})"))
        .unwrap_or_default();
    Some(format!("{source}: {}{debug}", e.error()))
}

/// Run one case to EOS and measure it.
pub fn run_case(spec: &CaseSpec) -> Result<Sample, BenchError> {
    if spec.frames <= spec.warmup {
        return Err(BenchError::Usage(format!(
            "{} frames leave nothing to measure after {} warm-up frames; use more frames than warm-up frames",
            spec.frames, spec.warmup
        )));
    }
    let began = Instant::now();
    gst::init().map_err(|e| BenchError::Gst(format!("GStreamer did not initialise: {e}")))?;
    gstzerocopy::plugin_register_static()
        .map_err(|e| BenchError::Gst(format!("registering the zerocopy plugin: {e}")))?;
    let init = began.elapsed().as_secs_f64();
    let fds_before = measure::own_fd_count()?;

    let (sample, pipeline, eos_at) = play(spec)?;
    let freed = [
        pipeline.upcast_ref::<gst::Object>().downgrade(),
        pipeline
            .bus()
            .map(|bus| bus.upcast::<gst::Object>().downgrade())
            .unwrap_or_default(),
    ];
    drop(pipeline);
    wait_until_freed(&freed, TEARDOWN_GRACE);
    let teardown = eos_at.elapsed().as_secs_f64();
    let fds_end = measure::own_fd_count()?;
    let peak_rss_kib = measure::own_peak_rss_kib()?;
    Ok(Sample {
        fds_before,
        fds_end,
        peak_rss_kib,
        phases_s: Phases {
            init,
            teardown,
            ..sample.phases_s
        },
        ..sample
    })
}

/// How long a stopped pipeline and its bus may take to be freed after our
/// last reference went.
const TEARDOWN_GRACE: Duration = Duration::from_secs(2);

/// Wait (at most `grace`) until these objects are freed. A thread of
/// GStreamer's can hold the last reference to a pipeline or its bus a
/// moment after the state change to NULL returned; the bus's GstPoll holds
/// two fds, which counted as left open once in a loaded run. Counting fds
/// after this tells a leak from that.
fn wait_until_freed(objects: &[gst::glib::WeakRef<gst::Object>], grace: Duration) {
    let deadline = Instant::now() + grace;
    while objects.iter().any(|o| o.upgrade().is_some()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The sample, the stopped pipeline (freed by the caller, to count fds
/// after), and when EOS arrived on the bus.
fn play(spec: &CaseSpec) -> Result<(Sample, gst::Pipeline, Instant), BenchError> {
    let building = Instant::now();
    let pipeline = gst::parse::launch(&spec.pipeline)
        .map_err(|e| BenchError::Gst(format!("cannot build `{}`: {e}", spec.pipeline)))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| BenchError::Gst(format!("`{}` is not a pipeline", spec.pipeline)))?;
    let sink = pipeline
        .by_name("sink")
        .ok_or_else(|| BenchError::Gst("the pipeline has no element named `sink`".to_owned()))?;
    let export = pipeline.by_name("export");
    let sink_pad = sink
        .static_pad("sink")
        .ok_or_else(|| BenchError::Gst(format!("{} has no sink pad", sink.name())))?;

    let window = Arc::new(Mutex::new(Window::default()));
    {
        let window = window.clone();
        let warmup = u64::from(spec.warmup);
        let compositor_pid = spec.compositor_pid;
        let sink_weak = sink.downgrade();
        let export_weak = export.as_ref().map(|e| e.downgrade());
        sink_pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |pad, info| {
                let Some(sink) = sink_weak.upgrade() else {
                    return gst::PadProbeReturn::Ok;
                };
                let export = export_weak.as_ref().and_then(|e| e.upgrade());
                let mut window = lock(&window);
                let take =
                    |window: &mut Window| match snapshot(export.as_ref(), &sink, compositor_pid) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            window.error.get_or_insert(e.to_string());
                            None
                        }
                    };
                if let Some(buffer) = info.buffer() {
                    // zcexport runs in the sink's streaming thread, before it:
                    // when frame k reaches the sink, zcexport has already copied
                    // it; zcwaylandsink copies it only after this probe. So the
                    // window's zcexport copies start after frame warmup-1 arrived,
                    // the sink's after frame warmup arrived.
                    if window.frames + 1 == warmup {
                        window.export_bytes_before = counter(export.as_ref(), "bytes-copied");
                    }
                    if window.frames == 0 {
                        window.first_frame = Some(Instant::now());
                    }
                    if window.frames == warmup {
                        window.start = take(&mut window);
                        window.frame_size = pad
                            .current_caps()
                            .and_then(|caps| gst_video::VideoInfo::from_caps(&caps).ok())
                            .map(|info| info.size() as u64);
                    }
                    if window.frames >= warmup {
                        window.memory.add(classify(buffer));
                    }
                    window.frames += 1;
                } else if let Some(event) = info.event()
                    && event.type_() == gst::EventType::Eos
                    && window.end.is_none()
                {
                    window.end = take(&mut window);
                }
                gst::PadProbeReturn::Ok
            },
        );
    }

    let bus = pipeline
        .bus()
        .ok_or_else(|| BenchError::Gst("the pipeline has no bus".to_owned()))?;
    let mut sink_stats: Option<gst::Structure> = None;
    let mut failure = None;
    let playing_at = Instant::now();
    if pipeline.set_state(gst::State::Playing).is_err() {
        failure = Some(
            bus.pop_filtered(&[gst::MessageType::Error])
                .and_then(|m| error_text(&m))
                .unwrap_or_else(|| "the pipeline refused to start".to_owned()),
        );
    } else {
        // A sink that lost its compositor can block forever (GStreamer 1.22's
        // waylandsink after a protocol error): give up when no frame has
        // reached the sink for the stall timeout. The parent's case timeout
        // bounds everything else.
        let stall_timeout = Duration::from_secs(spec.stall_timeout_s.max(1));
        let mut last_progress = (0u64, Instant::now());
        loop {
            let Some(message) = bus.timed_pop(gst::ClockTime::from_mseconds(500)) else {
                let frames = lock(&window).frames;
                if frames != last_progress.0 {
                    last_progress = (frames, Instant::now());
                } else if last_progress.1.elapsed() > stall_timeout {
                    // Stopping a pipeline whose sink is stuck may block as
                    // well: leave it to the process's exit.
                    std::mem::forget(pipeline);
                    return Err(BenchError::Pipeline(format!(
                        "stalled: no frame reached the sink for {} s after {frames} of {} frames \
                         (the sink or the compositor stopped; see the case's log)",
                        stall_timeout.as_secs(),
                        spec.frames
                    )));
                }
                continue;
            };
            match message.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(_) => {
                    failure = error_text(&message);
                    break;
                }
                gst::MessageView::Element(e) => {
                    if let Some(s) = e.structure().filter(|s| s.name() == "zc-sink-stats") {
                        sink_stats = Some(s.to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    let eos_at = Instant::now();
    if let Some(reason) = failure {
        let _ = pipeline.set_state(gst::State::Null);
        return Err(BenchError::Pipeline(reason));
    }
    let sink_path = sink
        .find_property("path")
        .map(|_| sink.property::<String>("path"));
    pipeline
        .set_state(gst::State::Null)
        .map_err(|_| BenchError::Pipeline("the pipeline did not stop".to_owned()))?;

    let window = std::mem::take(&mut *lock(&window));
    if let Some(error) = window.error {
        return Err(BenchError::Pipeline(error));
    }
    let (Some(start), Some(end)) = (window.start, window.end) else {
        return Err(BenchError::Pipeline(format!(
            "only {} frames reached the sink (warm-up is {}); nothing was measured",
            window.frames, spec.warmup
        )));
    };
    let frames_measured = window.frames.saturating_sub(u64::from(spec.warmup));
    let wall = end.instant.duration_since(start.instant);
    let cpu = end.cpu.since(&start.cpu);
    let per_frame = |us: f64| us / frames_measured.max(1) as f64;
    let compositor_cpu_us = match (start.compositor, end.compositor) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64() * 1e6),
        _ => None,
    };
    let delta = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
    let export_start = if spec.warmup == 0 {
        // Counters start at 0 when the element goes to PAUSED.
        start.export_bytes.map(|_| 0)
    } else {
        window.export_bytes_before
    };
    let export_bytes_copied = delta(export_start, end.export_bytes);
    let sink_bytes_copied = delta(start.sink_bytes, end.sink_bytes);
    let bytes_copied = match (export_bytes_copied, sink_bytes_copied) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    let stock_sink = matches!(spec.path, PathKind::Waylandsink | PathKind::Videoconvert);
    let bytes_copied_inferred_per_frame = stock_sink.then(|| {
        let copied_frames = window.memory.copied_by_waylandsink();
        per_frame(copied_frames.saturating_mul(window.frame_size.unwrap_or(0)) as f64)
    });
    let stat = |name: &str| sink_stats.as_ref().and_then(|s| s.get::<u64>(name).ok());
    let sample = Sample {
        repetition: 0,
        frames_total: window.frames,
        frames_measured,
        wall_s: wall.as_secs_f64(),
        fps: frames_measured as f64 / wall.as_secs_f64().max(1e-9),
        pipeline_user_us: cpu.user.as_secs_f64() * 1e6,
        pipeline_sys_us: cpu.system.as_secs_f64() * 1e6,
        pipeline_cpu_us_per_frame: per_frame(cpu.total().as_secs_f64() * 1e6),
        compositor_cpu_us,
        compositor_cpu_us_per_frame: compositor_cpu_us.map(per_frame),
        frames_composited: None,
        compositor_cpu_us_per_composited_frame: None,
        bytes_copied,
        bytes_copied_per_frame: bytes_copied.map(|b| per_frame(b as f64)),
        export_bytes_copied,
        sink_bytes_copied,
        bytes_copied_inferred_per_frame,
        memory_at_sink: window.memory,
        sink_path,
        // The mean is 0 when nothing was presented: no latency, not none.
        latency_us: stat("latency-us").filter(|_| stat("frames-presented").unwrap_or(0) > 0),
        frames_presented: stat("frames-presented"),
        frames_discarded: stat("frames-discarded"),
        peak_rss_kib: 0,
        fds_before: 0,
        fds_end: 0,
        process_wall_s: 0.0,
        phases_s: Phases {
            init: 0.0,
            build: playing_at.duration_since(building).as_secs_f64(),
            start: window
                .first_frame
                .map_or(0.0, |t| t.duration_since(playing_at).as_secs_f64()),
            warmup: window
                .first_frame
                .map_or(0.0, |t| start.instant.duration_since(t).as_secs_f64()),
            drain: eos_at.duration_since(end.instant).as_secs_f64(),
            teardown: 0.0,
        },
        window_start_ns: start.monotonic_ns,
        window_end_ns: end.monotonic_ns,
    };
    Ok((sample, pipeline, eos_at))
}

#[cfg(test)]
mod tests {
    use std::os::fd::IntoRawFd;

    use gst_allocators::prelude::*;

    use super::*;

    /// A frame in memories of `kinds` ("dmabuf", "fd", "system"), 64 bytes each.
    fn frame(kinds: &[&str]) -> gst::Buffer {
        let mut buffer = gst::Buffer::new();
        let writable = buffer.get_mut().expect("a new buffer is writable");
        for kind in kinds {
            let memory = if *kind == "system" {
                gst::Memory::from_slice(vec![0u8; 64])
            } else {
                let file = tempfile::tempfile().expect("a temporary file");
                file.set_len(64).expect("its size");
                let memory = if *kind == "dmabuf" {
                    // SAFETY: the file of 64 bytes was opened here; the
                    // memory takes its fd and closes it.
                    unsafe { gst_allocators::DmaBufAllocator::new().alloc_dmabuf(file, 64) }
                } else {
                    let flags = gst_allocators::FdMemoryFlags::NONE;
                    // SAFETY: as above.
                    unsafe {
                        gst_allocators::FdAllocator::new().alloc_fd(file.into_raw_fd(), 64, flags)
                    }
                };
                memory.expect("fd memory")
            };
            writable.append_memory(memory);
        }
        buffer
    }

    /// The classes follow what waylandsink does with a frame: a dma-buf and
    /// a frame in one fd go to the compositor as they are; a frame in
    /// system memory or in several fds is copied (so counted as system).
    #[test]
    fn frames_are_classed_by_what_waylandsink_can_hand_on() {
        gst::init().expect("GStreamer initialises");
        assert_eq!(classify(&frame(&["dmabuf"])), MemoryClass::DmaBuf);
        assert_eq!(classify(&frame(&["dmabuf", "dmabuf"])), MemoryClass::DmaBuf);
        assert_eq!(classify(&frame(&["fd"])), MemoryClass::Fd);
        assert_eq!(classify(&frame(&["fd", "fd"])), MemoryClass::System);
        assert_eq!(classify(&frame(&["system"])), MemoryClass::System);
        assert_eq!(classify(&frame(&["fd", "system"])), MemoryClass::System);
        assert_eq!(classify(&frame(&[])), MemoryClass::System);
    }

    /// Of the frames that reach stock waylandsink, only those in system
    /// memory (or several fds) are copied: its own pool's wl_shm (1.22),
    /// memfds (1.26) and udmabufs (1.28) are not.
    #[test]
    fn waylandsink_copies_only_what_it_cannot_hand_on() {
        let counts = |dmabuf, wl_shm, fd, system| MemoryCounts {
            dmabuf,
            wl_shm,
            fd,
            system,
        };
        assert_eq!(counts(0, 32, 0, 0).copied_by_waylandsink(), 0);
        assert_eq!(counts(0, 0, 32, 0).copied_by_waylandsink(), 0);
        assert_eq!(counts(32, 0, 0, 0).copied_by_waylandsink(), 0);
        assert_eq!(counts(0, 0, 0, 32).copied_by_waylandsink(), 32);
        assert_eq!(counts(3, 4, 5, 6).copied_by_waylandsink(), 6);
    }
}
