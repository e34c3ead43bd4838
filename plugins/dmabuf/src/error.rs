use std::io;
use std::path::PathBuf;

use crate::alloc::Backend;
use crate::layout::LayoutError;

/// Everything the core can fail at. Messages name the backend, the device
/// node, the syscall and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend's device node does not exist.
    #[error("{backend}: {} does not exist: {hint}", node.display())]
    DeviceMissing {
        backend: Backend,
        node: PathBuf,
        hint: String,
    },

    /// A syscall on a device node or buffer failed.
    #[error("{backend}: {syscall} on {node} failed: {source}{}", hint_suffix(hint))]
    Syscall {
        backend: Backend,
        node: String,
        syscall: &'static str,
        #[source]
        source: io::Error,
        hint: Option<String>,
    },

    /// An operation on a buffer's fd failed (mmap, sync, seek...).
    #[error("{what} failed on a {kind} buffer: {source}")]
    Buffer {
        what: &'static str,
        kind: &'static str,
        #[source]
        source: io::Error,
    },

    /// A foreign fd handed to `DmaBuf::from_fd` is not a dma-buf.
    #[error(
        "fd {fd} is not a dma-buf but {what}: pass an fd exported by a dma-buf exporter (a DMA heap, udmabuf, a DRM/V4L2 driver)"
    )]
    NotADmaBuf { fd: i32, what: String },

    /// A udmabuf request larger than the module allows.
    #[error(
        "udmabuf: {size} bytes is over the module's limit of {limit_mib} MiB \
         (/sys/module/udmabuf/parameters/size_limit_mb): raise it with `udmabuf.size_limit_mb=N` \
         on the kernel command line, or use the heap backend"
    )]
    UdmabufTooLarge { size: u64, limit_mib: u64 },

    /// A frame layout did not validate.
    #[error(transparent)]
    Layout(#[from] LayoutError),

    /// Another CPU access on this handle conflicts with the one asked for.
    #[error("CPU access conflict: {0}")]
    AccessConflict(&'static str),

    /// Write access asked of a buffer whose fd was opened read-only.
    #[error(
        "the buffer's fd was opened read-only (O_RDONLY): CPU writes need an O_RDWR export (e.g. DRM_RDWR, VIDIOC_EXPBUF with O_RDWR)"
    )]
    ReadOnlyFd,

    /// Any CPU access asked of a buffer whose fd was opened write-only.
    #[error(
        "the buffer's fd was opened write-only (O_WRONLY): CPU access needs an O_RDONLY or O_RDWR export, since mmap needs read access"
    )]
    WriteOnlyFd,

    /// Mutable data asked of a bracket opened with `Access::Read`.
    #[error(
        "this CPU access bracket was opened for reading: begin it with Access::Write or Access::ReadWrite to write"
    )]
    ReadBracket,

    /// A CPU copy outside the mapped buffer.
    #[error("{len} bytes at offset {offset} do not fit the {size}-byte buffer")]
    OutOfRange {
        offset: usize,
        len: usize,
        size: usize,
    },

    /// A backend cannot do what was asked (a format, a modifier).
    #[error("{backend}: {what}")]
    Unsupported { backend: Backend, what: String },

    /// GBM (libgbm) could not be loaded or failed.
    #[error("gbm: {0}")]
    Gbm(String),

    /// `auto` found no backend that works; each one's reason is listed.
    #[error("no allocation backend is available:{}", list_reasons(.0))]
    NoBackend(Vec<(Backend, Error)>),

    /// A backend name that zc does not know.
    #[error("unknown backend `{0}`: expected one of auto, heap, udmabuf, gbm, memfd")]
    UnknownBackend(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
}

fn list_reasons(reasons: &[(Backend, Error)]) -> String {
    reasons
        .iter()
        .map(|(backend, err)| format!("\n  - {backend}: {err}"))
        .collect()
}
