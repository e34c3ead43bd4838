//! zc's core: dma-buf handles, frame layouts, CPU-access brackets, allocation
//! backends, sync_file, and the colour maths (YUV matrices and ranges). No
//! GStreamer, Wayland or Vulkan in here.
//!
//! The rules everything obeys:
//! - a frame's memory lives while anyone holds an fd to it: share a
//!   [`DmaBuf`] by `Arc` or [`DmaBuf::try_clone`], never by raw fd number;
//! - every CPU access is bracketed: [`DmaBuf::begin_cpu_access`] returns a
//!   guard whose drop ends the bracket, also on early return and panic;
//! - memory others may write is never a Rust slice: the guard copies
//!   ([`CpuAccess::read_into`], [`CpuAccess::write_from`]) or gives a raw
//!   pointer; its slice accessors are `unsafe` (see [`CpuAccess`]);
//! - a buffer is reused only after every consumer is done
//!   ([`DmaBuf::export_sync_file`], [`SyncFile::wait`]).

pub mod alloc;
pub mod color;
mod dmabuf;
mod error;
pub mod fds;
pub mod layout;
mod sync_file;
pub mod syncobj;
mod sys;

pub use alloc::{
    Allocator, AllocatorOptions, BACKEND_ENV, Backend, BackendChoice, Frame, FrameRequest,
    GbmAllocator, HeapAllocator, MemfdAllocator, UdmabufAllocator,
};
pub use dmabuf::{
    Access, BracketCounter, BracketStats, BufferKind, CpuAccess, DmaBuf, FdBracket,
    copy_from_shared, copy_to_shared, sync_end, sync_start,
};
pub use error::{Error, Result};
pub use layout::{
    FormatInfo, Fourcc, FrameLayout, LayoutError, Modifier, PlaneLayout, RgbPacking, StrideAlign,
};
pub use sync_file::SyncFile;
/// Which file an fd refers to, (device, inode): the same for every fd of one
/// buffer, so imports can be matched to the buffers they came from.
pub use sys::fd_identity;
/// Whether an fd was opened `O_RDONLY`.
pub use sys::fd_is_read_only;
/// The real size of an fd (dma-buf or memfd): what a frame's layout must fit
/// in, whatever size a wrapper around the fd claims.
pub use sys::real_size as fd_real_size;
/// Whether an fd's size is fixed (a dma-buf, or a memfd sealed against
/// shrinking): a layout checked against it once stays valid.
pub use sys::size_is_fixed as fd_size_is_fixed;
