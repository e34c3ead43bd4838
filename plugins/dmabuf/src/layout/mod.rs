//! Pixel formats and frame layouts.
//!
//! A dma-buf frame is only usable if every party agrees on where each plane
//! starts and how its rows are spaced. Layouts come from two places: the ones
//! zc allocates itself ([`FrameLayout::compute`]) and the ones handed to us by a
//! compositor, GBM, a V4L2 driver or a `GstVideoMeta` ([`FrameLayout::new`]).
//! Both paths validate once, up front, so that code holding a [`FrameLayout`]
//! can map, copy and import without re-checking bounds, and so that a bad
//! layout is reported where it entered rather than as a GPU fault later.
//!
//! - `fourcc`: [`Fourcc`], the DRM format code, and its names;
//! - `modifier`: [`Modifier`], the DRM format modifier;
//! - `format`: [`FormatInfo`] / [`PlaneInfo`], the table of supported
//!   formats and how their planes are shaped;
//! - `frame_layout`: [`FrameLayout`] (with [`PlaneLayout`] and
//!   [`StrideAlign`]): computing and validating a frame's planes;
//! - `rgb_packing`: [`RgbPacking`], where the channels of a 32-bit RGB
//!   pixel lie (8 or 10 bits each);
//! - `error`: [`LayoutError`], why a layout was refused.

mod error;
mod format;
mod fourcc;
mod frame_layout;
mod modifier;
mod rgb_packing;

pub use error::LayoutError;
pub use format::{FormatInfo, PlaneInfo};
pub use fourcc::Fourcc;
pub use frame_layout::{FrameLayout, PlaneLayout, StrideAlign};
pub use modifier::Modifier;
pub use rgb_packing::RgbPacking;

/// Page size used to round allocation sizes: dma-buf exporters hand out whole
/// pages, and importers may map whole pages, so a computed buffer claims them.
pub const PAGE_SIZE: u64 = 4096;

/// Largest width or height accepted. Keeps every size computation far from
/// overflow and matches what display and video hardware can actually scan out.
pub const MAX_DIMENSION: u32 = 16384;

/// DRM (and the dma-buf import APIs built on it) carry at most four planes and
/// four buffers per frame.
pub const MAX_PLANES: usize = 4;
