//! The conversions in front of the sink, for formats the compositor cannot
//! show: `videoconvert` first (the CPU, only where nothing else can; it
//! writes straight into zcexport's dma-bufs), then `zcvulkanconvert
//! passthrough=true` after zcexport where a Vulkan device is there (the GPU
//! turns 10-bit, 4:2:2 and 4:4:4 dma-bufs into RGB dma-bufs: 10-bit video
//! into 10-bit RGB, BGR10A2_LE (DRM AR30), where the compositor imports it,
//! the rest into RGBA). Both pass
//! frames on untouched when the sink takes them as they are, so NV12 and
//! I420 still go straight to the compositor. What each does is chosen per
//! stream by negotiation and read back here for the statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use gst::prelude::*;
use gst_base::prelude::*;

use super::make;

/// Which of the two converts, as the `stats` request and the panel say it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// none, gpu, cpu or cpu+gpu.
    pub kind: &'static str,
    /// What became what, e.g. "I420_10LE to BGR10A2_LE on the GPU
    /// (zcvulkanconvert)".
    pub detail: Option<String>,
    /// Frames and bytes the CPU conversion wrote (it is a copy).
    pub cpu_frames: u64,
    pub cpu_bytes: u64,
}

pub struct Conversion {
    cpu: gst::Element,
    gpu: Option<gst::Element>,
    cpu_frames: Arc<AtomicU64>,
    cpu_bytes: Arc<AtomicU64>,
}

/// zcvulkanconvert in passthrough mode, if a Vulkan device opens (the
/// element opens it when it starts; tried once here, alone).
fn gpu_converter() -> Option<gst::Element> {
    let convert = make("zcvulkanconvert", "gpu-convert").ok()?;
    convert.set_property("passthrough", true);
    let works = convert.set_state(gst::State::Paused).is_ok();
    let _ = convert.set_state(gst::State::Null);
    if works {
        Some(convert)
    } else {
        eprintln!(
            "zc-player: no Vulkan device for GPU conversion: formats the compositor cannot show \
             are converted on the CPU (GST_DEBUG=zcvulkanconvert:4 says why)"
        );
        None
    }
}

fn format_of(pad: &gst::Pad) -> Option<String> {
    let caps = pad.current_caps()?;
    let s = caps.structure(0)?;
    match s.get::<&str>("format").ok()? {
        "DMA_DRM" => s.get::<String>("drm-format").ok(),
        format => Some(format.to_owned()),
    }
}

/// "A to B", when `element` converts (is not passing frames through).
fn converting(element: &gst::Element) -> Option<String> {
    let transform = element.downcast_ref::<gst_base::BaseTransform>()?;
    if transform.is_passthrough() {
        return None;
    }
    let from = format_of(transform.sink_pad())?;
    let to = format_of(transform.src_pad())?;
    Some(format!("{from} to {to}"))
}

impl Conversion {
    pub fn new() -> Result<Conversion> {
        let cpu = make("videoconvert", "cpu-convert")?;
        let cpu_frames = Arc::new(AtomicU64::new(0));
        let cpu_bytes = Arc::new(AtomicU64::new(0));
        if let Some(src) = cpu.static_pad("src") {
            let (frames, bytes) = (cpu_frames.clone(), cpu_bytes.clone());
            let element = cpu.clone();
            // Per frame: only whether it converts (no caps read, nothing
            // formatted; a buffer on its src pad means caps are set).
            src.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                let converts = element
                    .downcast_ref::<gst_base::BaseTransform>()
                    .is_some_and(|t| !t.is_passthrough());
                if converts && let Some(buffer) = info.buffer() {
                    frames.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(buffer.size() as u64, Ordering::Relaxed);
                }
                gst::PadProbeReturn::Ok
            });
        }
        Ok(Conversion {
            cpu,
            gpu: gpu_converter(),
            cpu_frames,
            cpu_bytes,
        })
    }

    /// The CPU converter: the first element of the video bin.
    pub fn cpu(&self) -> &gst::Element {
        &self.cpu
    }

    /// The GPU converter, right after zcexport, where there is one.
    pub fn gpu(&self) -> Option<&gst::Element> {
        self.gpu.as_ref()
    }

    pub fn report(&self) -> Report {
        let cpu = converting(&self.cpu);
        let gpu = self.gpu.as_ref().and_then(converting);
        let kind = match (&cpu, &gpu) {
            (None, None) => "none",
            (None, Some(_)) => "gpu",
            (Some(_), None) => "cpu",
            (Some(_), Some(_)) => "cpu+gpu",
        };
        let detail = [
            cpu.map(|c| format!("{c} on the CPU (videoconvert)")),
            gpu.map(|g| format!("{g} on the GPU (zcvulkanconvert)")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
        Report {
            kind,
            detail: (!detail.is_empty()).then(|| detail.join(", then ")),
            cpu_frames: self.cpu_frames.load(Ordering::Relaxed),
            cpu_bytes: self.cpu_bytes.load(Ordering::Relaxed),
        }
    }
}
