//! The three requests every frame sends on the video surface (`attach`,
//! `damage_buffer`, `commit`), marshalled by libwayland directly.
//!
//! Through wayland-rs each costs about twice what libwayland's own
//! marshalling does: a `Message` with its argument vector is built, its
//! fds mapped, the object looked up and checked, and only then libwayland
//! marshals it. `zc-bench --instructions` counted 21.8k instructions per
//! frame for the sink's four requests that way, against 12.7k for the same
//! four in stock `waylandsink`, which calls libwayland (docs/sink-cost.md).
//!
//! These three create no object and carry no fd: wayland-rs keeps no state
//! for them. Its system backend is libwayland itself, so the proxies'
//! pointers take them, in order with every other request of the
//! connection (libwayland serialises all of them under its display lock).
//! `frame` creates an object: it goes through libwayland too, with a
//! dispatcher of zc's own, in `frame_objects`.

use std::ffi::c_void;

use wayland_client::Proxy;
use wayland_client::protocol::wl_surface::{self, WlSurface};
use wayland_sys::client::*;
use wayland_sys::common::wl_argument;
use wayland_sys::ffi_dispatch;

use super::frame_objects::BufferProxy;

/// Attach `buffer` at (0, 0) and damage all of it (buffer coordinates).
/// Nothing is sent if the surface was destroyed. The caller holds the
/// presenter's lock and the frame's `FrameBuffer`, made by this presenter
/// (see [`marshal`]).
pub(super) fn attach_and_damage(surface: &WlSurface, buffer: &BufferProxy) {
    let (surface_ptr, buffer_ptr) = (surface.id().as_ptr(), buffer.as_ptr());
    if surface_ptr.is_null() || buffer_ptr.is_null() {
        return;
    }
    let object = wl_argument {
        o: buffer_ptr.cast::<c_void>(),
    };
    let int = |i: i32| wl_argument { i };
    // SAFETY: the surface's proxy stays alive for the call: wayland-rs
    // handed it out non-null, the caller (`commit_frame`) holds the
    // presenter's lock, and a window's surfaces are destroyed only after
    // the window was taken out from under it. The `wl_buffer` is kept
    // alive by the caller's frame, whose `FrameBuffer` destroys it on drop
    // (or the presenter that made it, in its own drop, which cannot run
    // during a commit: `present` checks the buffer is this presenter's).
    // wl_surface.attach is (object, int, int) and damage_buffer four ints.
    unsafe {
        marshal(
            surface_ptr,
            wl_surface::REQ_ATTACH_OPCODE,
            &mut [object, int(0), int(0)],
        );
        marshal(
            surface_ptr,
            wl_surface::REQ_DAMAGE_BUFFER_OPCODE,
            &mut [int(0), int(0), int(i32::MAX), int(i32::MAX)],
        );
    }
}

/// Commit the surface's pending state. Nothing is sent if it was destroyed.
pub(super) fn commit(surface: &WlSurface) {
    let surface_ptr = surface.id().as_ptr();
    if surface_ptr.is_null() {
        return;
    }
    // SAFETY: the surface's proxy is alive, as in `attach_and_damage`;
    // commit has no arguments (libwayland reads none of the one it is
    // given).
    unsafe {
        marshal(
            surface_ptr,
            wl_surface::REQ_COMMIT_OPCODE,
            &mut [wl_argument { i: 0 }],
        )
    };
}

/// Send request `opcode` on `proxy` with `args`, through libwayland (a
/// request that creates no object; `frame_objects` sends `wl_buffer`'s
/// destructor this way too).
///
/// # Safety
/// `proxy`, and any object among `args`, is a live proxy of this
/// connection for the whole call; `args` match the request's signature in
/// the protocol. libwayland copies them into the connection's buffer
/// before it returns.
pub(super) unsafe fn marshal(proxy: *mut wl_proxy, opcode: u16, args: &mut [wl_argument]) {
    // SAFETY: the caller's contract above.
    unsafe {
        ffi_dispatch!(
            wayland_client_handle(),
            wl_proxy_marshal_array,
            proxy,
            u32::from(opcode),
            args.as_mut_ptr()
        );
    }
}
