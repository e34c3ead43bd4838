//! Allocation backends behind one trait: DMA heap, udmabuf, GBM, memfd.
//!
//! `auto` tries them in that order and keeps every reason a backend was
//! passed over, so "why did I get memfd?" has an answer.

mod gbm;
mod heap;
mod memfd;
mod udmabuf;

use std::fmt;
use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use self::gbm::GbmAllocator;
pub use self::heap::HeapAllocator;
pub use self::memfd::MemfdAllocator;
pub use self::udmabuf::UdmabufAllocator;
use crate::dmabuf::DmaBuf;
use crate::error::{Error, Result};
use crate::layout::{Fourcc, FrameLayout, Modifier, StrideAlign};

/// The environment variable that picks a backend (`auto`, `heap`, `udmabuf`, `gbm`, `memfd`).
pub const BACKEND_ENV: &str = "ZC_BACKEND";

/// One allocation backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `/dev/dma_heap/<name>` (`system` by default; `linux,cma` for contiguous memory).
    Heap,
    /// `/dev/udmabuf` over a sealed memfd.
    Udmabuf,
    /// GBM on a DRM node: the GPU driver's own layouts and modifiers.
    Gbm,
    /// A memfd: not a dma-buf. For `wl_shm`, and the last resort.
    Memfd,
}

impl Backend {
    /// The order `auto` tries.
    pub const AUTO_ORDER: [Backend; 4] = [
        Backend::Heap,
        Backend::Udmabuf,
        Backend::Gbm,
        Backend::Memfd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Heap => "heap",
            Backend::Udmabuf => "udmabuf",
            Backend::Gbm => "gbm",
            Backend::Memfd => "memfd",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `auto`, or one backend named explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    #[default]
    Auto,
    Only(Backend),
}

impl BackendChoice {
    /// The choice in `ZC_BACKEND`, or `Auto` when it is unset or empty.
    pub fn from_env() -> Result<Self> {
        match std::env::var(BACKEND_ENV) {
            Ok(value) if !value.trim().is_empty() => value.parse(),
            _ => Ok(BackendChoice::Auto),
        }
    }
}

impl FromStr for BackendChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "auto" => BackendChoice::Auto,
            "heap" | "dma-heap" | "dma_heap" => BackendChoice::Only(Backend::Heap),
            "udmabuf" => BackendChoice::Only(Backend::Udmabuf),
            "gbm" => BackendChoice::Only(Backend::Gbm),
            "memfd" => BackendChoice::Only(Backend::Memfd),
            _ => return Err(Error::UnknownBackend(s.to_owned())),
        })
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendChoice::Auto => f.write_str("auto"),
            BackendChoice::Only(backend) => backend.fmt(f),
        }
    }
}

/// Where the backends find their devices.
#[derive(Clone, Debug)]
pub struct AllocatorOptions {
    /// The DMA heap's name under `/dev/dma_heap/`.
    pub heap_name: String,
    /// The DRM node for GBM; `None` searches `/dev/dri` (render nodes first).
    pub drm_node: Option<PathBuf>,
}

impl Default for AllocatorOptions {
    fn default() -> Self {
        Self {
            heap_name: "system".to_owned(),
            drm_node: None,
        }
    }
}

/// What to allocate: a frame of one format and size.
#[derive(Clone, Debug)]
pub struct FrameRequest {
    pub fourcc: Fourcc,
    pub width: u32,
    pub height: u32,
    /// Stride (and plane offset) alignment for backends that lay frames out themselves.
    pub align: StrideAlign,
    /// Modifiers the consumer accepts, for GBM; empty means LINEAR only.
    pub modifiers: Vec<Modifier>,
}

impl FrameRequest {
    pub fn new(fourcc: Fourcc, width: u32, height: u32) -> Self {
        Self {
            fourcc,
            width,
            height,
            align: StrideAlign::default(),
            modifiers: Vec::new(),
        }
    }

    /// The name every buffer gets through `DMA_BUF_SET_NAME` (shown in fdinfo).
    pub(crate) fn buffer_name(&self) -> String {
        format!("zc {} {}x{}", self.fourcc, self.width, self.height)
    }
}

/// A frame: its validated layout and the buffers its planes live in.
#[derive(Debug)]
pub struct Frame {
    pub layout: FrameLayout,
    /// Indexed by `PlaneLayout::buffer`; zc's own backends use one buffer.
    pub buffers: Vec<DmaBuf>,
}

impl Frame {
    /// Build a frame from received parts, validating the layout against the
    /// buffers' real sizes.
    pub fn new(layout: FrameLayout, buffers: Vec<DmaBuf>) -> Result<Self> {
        let sizes: Vec<u64> = buffers.iter().map(DmaBuf::size).collect();
        let layout = FrameLayout::new(
            layout.fourcc(),
            layout.modifier(),
            layout.width(),
            layout.height(),
            layout.planes(),
            &sizes,
        )?;
        Ok(Self { layout, buffers })
    }
}

/// An allocation backend.
pub trait Allocator: Send + Sync + fmt::Debug {
    fn backend(&self) -> Backend;

    /// The device or mechanism, for logs and tables ("/dev/dma_heap/system").
    fn device(&self) -> String;

    /// Allocate one frame, laid out by this backend, each buffer named.
    fn allocate(&self, request: &FrameRequest) -> Result<Frame>;

    /// Allocate one buffer of at least `size` bytes with no frame layout
    /// (what `GstAllocator::alloc` asks for), named `name`.
    fn allocate_bytes(&self, size: u64, name: &str) -> Result<DmaBuf>;
}

/// Name a freshly allocated buffer; kernels before 5.x lack the ioctl, and a
/// name is for debugging only, so failure is logged, not returned.
pub(crate) fn name_buffer(buffer: &DmaBuf, name: &str) {
    if let Err(err) = buffer.set_name(name) {
        log::debug!("could not name buffer: {err}");
    }
}

/// Shared path of the backends that hand out plain bytes: compute zc's own
/// layout, get one buffer of its size, name it.
pub(crate) fn allocate_linear(
    request: &FrameRequest,
    allocate_bytes: impl FnOnce(u64) -> Result<DmaBuf>,
) -> Result<Frame> {
    let layout =
        FrameLayout::compute(request.fourcc, request.width, request.height, request.align)?;
    let buffer = allocate_bytes(layout.buffer_size())?;
    name_buffer(&buffer, &request.buffer_name());
    Frame::new(layout, vec![buffer])
}

/// Open a backend's device node, turning the two common failures into
/// errors that say what to do: a missing node (`missing_hint`: which kernel
/// option or module) and a root-only node.
pub(crate) fn open_device(
    backend: Backend,
    node: &Path,
    write: bool,
    missing_hint: String,
) -> Result<OwnedFd> {
    let file = OpenOptions::new().read(true).write(write).open(node).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::DeviceMissing { backend, node: node.to_owned(), hint: missing_hint },
        kind => Error::Syscall {
            backend,
            node: node.display().to_string(),
            syscall: "open",
            hint: (kind == std::io::ErrorKind::PermissionDenied).then(|| {
                format!("{} is root-only by default: run as root, or add a udev rule granting your user access", node.display())
            }),
            source,
        },
    })?;
    Ok(file.into())
}

/// Open one backend.
pub fn open_backend(backend: Backend, options: &AllocatorOptions) -> Result<Box<dyn Allocator>> {
    Ok(match backend {
        Backend::Heap => Box::new(HeapAllocator::open(&options.heap_name)?),
        Backend::Udmabuf => Box::new(UdmabufAllocator::open()?),
        Backend::Gbm => Box::new(GbmAllocator::open(options.drm_node.as_deref())?),
        Backend::Memfd => Box::new(MemfdAllocator),
    })
}

/// Open the chosen backend; for `Auto`, the first of heap, udmabuf, GBM, memfd
/// that opens (each skipped one is logged with its reason).
pub fn open(choice: BackendChoice, options: &AllocatorOptions) -> Result<Box<dyn Allocator>> {
    match choice {
        BackendChoice::Only(backend) => open_backend(backend, options),
        BackendChoice::Auto => {
            let mut reasons = Vec::new();
            for backend in Backend::AUTO_ORDER {
                match open_backend(backend, options) {
                    Ok(allocator) => {
                        for (skipped, reason) in &reasons {
                            log::info!(
                                "backend {skipped} skipped: {reason}; zc tried {backend} next"
                            );
                        }
                        return Ok(allocator);
                    }
                    Err(err) => reasons.push((backend, err)),
                }
            }
            Err(Error::NoBackend(reasons))
        }
    }
}

/// Every backend with whether it opens here, and why not.
pub fn probe(options: &AllocatorOptions) -> Vec<(Backend, Result<Box<dyn Allocator>>)> {
    Backend::AUTO_ORDER
        .iter()
        .map(|&backend| (backend, open_backend(backend, options)))
        .collect()
}

/// Byte buffers are whole pages: what heaps and udmabuf hand out anyway.
pub(crate) fn page_round(size: u64) -> Result<u64> {
    let page = crate::layout::PAGE_SIZE;
    size.max(1)
        .checked_next_multiple_of(page)
        .ok_or(Error::Unsupported {
            backend: Backend::Memfd,
            what: format!("{size} bytes cannot be rounded to whole pages"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_choice_parses_names_and_rejects_others() {
        assert_eq!(
            "auto".parse::<BackendChoice>().ok(),
            Some(BackendChoice::Auto)
        );
        assert_eq!(
            " Heap ".parse::<BackendChoice>().ok(),
            Some(BackendChoice::Only(Backend::Heap))
        );
        assert_eq!(
            "udmabuf".parse::<BackendChoice>().ok(),
            Some(BackendChoice::Only(Backend::Udmabuf))
        );
        assert_eq!(
            "gbm".parse::<BackendChoice>().ok(),
            Some(BackendChoice::Only(Backend::Gbm))
        );
        assert_eq!(
            "memfd".parse::<BackendChoice>().ok(),
            Some(BackendChoice::Only(Backend::Memfd))
        );
        let err = "vram".parse::<BackendChoice>().expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown backend `vram`: expected one of auto, heap, udmabuf, gbm, memfd"
        );
        for choice in [BackendChoice::Auto, BackendChoice::Only(Backend::Gbm)] {
            assert_eq!(
                choice.to_string().parse::<BackendChoice>().ok(),
                Some(choice)
            );
        }
    }

    #[test]
    fn a_missing_heap_names_the_node_and_what_to_do() {
        let err = HeapAllocator::open("zc-no-such-heap").expect_err("no such heap");
        let message = err.to_string();
        assert!(
            matches!(
                err,
                Error::DeviceMissing {
                    backend: Backend::Heap,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            message.contains("/dev/dma_heap/zc-no-such-heap"),
            "{message}"
        );
        assert!(
            message.contains("no heap named `zc-no-such-heap`"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_drm_node_is_reported_by_path() {
        let err = GbmAllocator::open(Some(std::path::Path::new("/dev/dri/zc-missing")))
            .expect_err("missing");
        let message = err.to_string();
        // Without libgbm the message says so; with it, the node is named.
        assert!(
            message.contains("/dev/dri/zc-missing") || message.contains("libgbm"),
            "{message}"
        );
    }

    #[test]
    fn auto_explains_every_skipped_backend_when_none_works() {
        let reasons = vec![
            (
                Backend::Heap,
                Error::DeviceMissing {
                    backend: Backend::Heap,
                    node: "/dev/dma_heap/system".into(),
                    hint: "the kernel lacks CONFIG_DMABUF_HEAPS_SYSTEM".into(),
                },
            ),
            (Backend::Udmabuf, Error::UnknownBackend("x".into())),
        ];
        let message = Error::NoBackend(reasons).to_string();
        assert!(message.contains("- heap: heap: /dev/dma_heap/system does not exist: the kernel lacks CONFIG_DMABUF_HEAPS_SYSTEM"), "{message}");
        assert!(message.contains("- udmabuf:"), "{message}");
    }

    #[test]
    fn memfd_frames_get_zc_layouts() {
        let frame = MemfdAllocator
            .allocate(&FrameRequest::new(Fourcc::NV12, 1921, 1081))
            .expect("allocate");
        assert_eq!(frame.layout.planes()[0].stride, 2048);
        assert_eq!(frame.buffers[0].size(), frame.layout.buffer_size());
        assert!(!frame.buffers[0].is_dma_buf());
    }

    #[test]
    fn byte_buffers_are_whole_pages() {
        for (asked, got) in [(0, 4096), (1, 4096), (4096, 4096), (4097, 8192)] {
            let buffer = MemfdAllocator
                .allocate_bytes(asked, "zc bytes")
                .expect("allocate_bytes");
            assert_eq!(buffer.size(), got, "asked for {asked}");
        }
    }

    #[test]
    fn impossible_requests_are_layout_errors() {
        let err = MemfdAllocator
            .allocate(&FrameRequest::new(Fourcc::NV12, 0, 1080))
            .expect_err("zero width");
        assert!(matches!(err, Error::Layout(_)), "{err:?}");
    }
}
