//! The three requests every frame sends on the video surface (`attach`,
//! `damage_buffer`, `commit`), marshalled by libwayland directly.
//!
//! Through wayland-rs each costs about twice what libwayland's own
//! marshalling does: a `Message` with its argument vector is built, its
//! fds mapped, the object looked up and checked, and only then libwayland
//! marshals it. `zc-bench --instructions` counted 21.8k instructions per
//! frame for the sink's four requests that way, against 12.7k for the same
//! four in stock `waylandsink`, which calls libwayland (docs/bench.md).
//!
//! These three create no object and carry no fd: wayland-rs keeps no state
//! for them. Its system backend is libwayland itself, so the proxies'
//! pointers take them, in order with every other request of the
//! connection (libwayland serialises all of them under its display lock).
//! `frame` stays with wayland-rs: its callback is an object whose events
//! wayland-rs dispatches.

use std::ffi::c_void;

use wayland_client::Proxy;
use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_surface::{self, WlSurface};
use wayland_sys::client::*;
use wayland_sys::common::wl_argument;
use wayland_sys::ffi_dispatch;

/// Attach `buffer` at (0, 0) and damage all of it (buffer coordinates).
/// Nothing is sent if either object was destroyed. The caller holds the
/// presenter's lock and the frame's `FrameBuffer` (see the SAFETY note).
pub(super) fn attach_and_damage(surface: &WlSurface, buffer: &WlBuffer) {
    let (surface_ptr, buffer_ptr) = (surface.id().as_ptr(), buffer.id().as_ptr());
    if surface_ptr.is_null() || buffer_ptr.is_null() {
        return;
    }
    let mut attach = [
        wl_argument {
            o: buffer_ptr.cast::<c_void>(),
        },
        wl_argument { i: 0 },
        wl_argument { i: 0 },
    ];
    let mut damage = [
        wl_argument { i: 0 },
        wl_argument { i: 0 },
        wl_argument { i: i32::MAX },
        wl_argument { i: i32::MAX },
    ];
    // SAFETY: both pointers are proxies of this connection that were alive
    // when wayland-rs handed them out (non-null), and stay so for the
    // calls: the caller (`commit_frame`) holds the presenter's lock, and a
    // window's surfaces are destroyed only after the window was taken out
    // from under it; the buffer's `FrameBuffer`, whose drop destroys the
    // `wl_buffer`, is held by the caller's frame. The argument arrays match
    // the requests' signatures in wl_surface (attach: object, int, int;
    // damage_buffer: four ints) and outlive the calls, which copy them into
    // the connection's buffer.
    unsafe {
        ffi_dispatch!(
            wayland_client_handle(),
            wl_proxy_marshal_array,
            surface_ptr,
            u32::from(wl_surface::REQ_ATTACH_OPCODE),
            attach.as_mut_ptr()
        );
        ffi_dispatch!(
            wayland_client_handle(),
            wl_proxy_marshal_array,
            surface_ptr,
            u32::from(wl_surface::REQ_DAMAGE_BUFFER_OPCODE),
            damage.as_mut_ptr()
        );
    }
}

/// Commit the surface's pending state. Nothing is sent if it was destroyed.
pub(super) fn commit(surface: &WlSurface) {
    let surface_ptr = surface.id().as_ptr();
    if surface_ptr.is_null() {
        return;
    }
    // Commit has no arguments; libwayland is given a valid array anyway.
    let mut none = [wl_argument { i: 0 }];
    // SAFETY: a proxy of this connection that stays alive for the call
    // (see `attach_and_damage`); libwayland reads no argument for commit,
    // and the array outlives the call.
    unsafe {
        ffi_dispatch!(
            wayland_client_handle(),
            wl_proxy_marshal_array,
            surface_ptr,
            u32::from(wl_surface::REQ_COMMIT_OPCODE),
            none.as_mut_ptr()
        );
    }
}
