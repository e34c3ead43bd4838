use zc_dmabuf::{Fourcc, Modifier};

/// Everything that can go wrong between zc and a compositor.
#[derive(Debug, thiserror::Error)]
pub enum WaylandError {
    #[error(
        "cannot connect to the Wayland display {name:?} ({path}): {reason}; set WAYLAND_DISPLAY \
         (and XDG_RUNTIME_DIR) to a running compositor's socket, or give the display name"
    )]
    NoDisplay {
        name: String,
        path: String,
        reason: String,
    },

    #[error(
        "the compositor at {path} accepted the connection but did not answer within {timeout:?}: \
         it is hung or stopped; restart it, or point the display at a live compositor"
    )]
    ConnectTimeout {
        path: String,
        timeout: std::time::Duration,
    },

    #[error("the compositor has no {interface} (version {min} or later needed)")]
    MissingGlobal { interface: &'static str, min: u32 },

    #[error("the connection to the compositor was lost: {0}")]
    ConnectionLost(String),

    #[error("the compositor sent an invalid dma-buf format table: {0}")]
    BadFormatTable(String),

    #[error(
        "the compositor does not import {fourcc} with modifier {modifier}; it offers: {offered}"
    )]
    FormatNotOffered {
        fourcc: Fourcc,
        modifier: Modifier,
        offered: String,
    },

    #[error(
        "{fourcc} with the implicit modifier (DRM_FORMAT_MOD_INVALID) is refused: the layout is \
         only known to the driver; set allow-implicit-modifier to accept it"
    )]
    ImplicitModifier { fourcc: Fourcc },

    #[error(
        "the compositor rejected a {width}x{height} {fourcc} dma-buf with modifier {modifier} \
         ({interlacing})"
    )]
    BufferRejected {
        fourcc: Fourcc,
        modifier: Modifier,
        width: u32,
        height: u32,
        interlacing: crate::Interlacing,
    },

    #[error("wl_shm has no {fourcc} here; it offers: {offered}")]
    ShmFormatNotOffered { fourcc: Fourcc, offered: String },

    #[error("{what} is not possible over wl_shm: {why}")]
    ShmLayout { what: String, why: String },

    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout { what: &'static str, seconds: u64 },

    #[error("the window handle {handle:#x} cannot be used: {why}")]
    BadWindowHandle { handle: usize, why: String },

    #[error("the window was closed")]
    WindowClosed,

    #[error(
        "libwayland made no {interface} (out of memory, or the object it is made from is gone)"
    )]
    ObjectNotMade { interface: &'static str },

    #[error("this wl_buffer was made by another presenter (connection): import the frame again")]
    ForeignBuffer,

    #[error("{0}")]
    Io(#[from] std::io::Error),
}
