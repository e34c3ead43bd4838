//! The objects of a frame whose events zc dispatches itself, made through
//! libwayland directly: the frame's `wl_buffer`, `wl_surface.frame`'s
//! callback and `wp_presentation.feedback`.
//!
//! Through wayland-rs each costs an object with its own data and a
//! dispatcher, and every event a parsed message queued on the Rust side
//! and dispatched from there: per frame about 7k instructions for the
//! callback, 15k for the feedback (request, `sync_output`, `presented`,
//! the id's release) and 1.5k for the buffer's `release` (docs/sink-cost.md).
//! A C client's listener is cheaper, but libwayland calls listeners
//! through libffi, about 2k instructions per event. So each object gets a
//! dispatcher (libwayland's other way in, the one wayland-rs uses), which
//! reads the event's arguments as they are and only notes what happened;
//! the dispatch thread acts on it after each dispatch
//! (`State::handle_frame_events`), with the presenter's state at hand as
//! for any other event; so does a round trip's end before it wakes anyone,
//! so that a waiter sees the events sent before theirs acted on.
//!
//! libwayland gives a new object its parent's queue: the video surface's,
//! `wp_presentation`'s, the dma-buf params' or the shm pool's, all
//! wayland-backend's private queue of this connection (it puts every proxy
//! it makes there), which only the dispatch thread dispatches. Whoever
//! takes an object out of [`FrameObjects`]' lists destroys it: a callback
//! or feedback its dispatcher on its last event, or
//! [`FrameObjects::destroy_up_to`] for those of a destroyed window; a
//! buffer its [`FrameBuffer`](super::buffer::FrameBuffer)'s drop; and
//! [`FrameObjects::destroy_all`] every one left when the presenter goes,
//! before its connection (and that queue) does. Each callback and feedback
//! carries its window's generation, so that a window made while another is
//! taken down keeps its own, and a late event of the old one is not taken
//! for the new one's.

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::{Arc, Mutex};

use smallvec::SmallVec;
use wayland_client::Proxy;
use wayland_client::protocol::wl_buffer::{self, WlBuffer};
use wayland_client::protocol::wl_callback::{self, WlCallback};
use wayland_client::protocol::wl_shm_pool::{self, WlShmPool};
use wayland_client::protocol::wl_surface::{self, WlSurface};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::{
    self, ZwpLinuxBufferParamsV1,
};
use wayland_protocols::wp::presentation_time::client::wp_presentation::{self, WpPresentation};
use wayland_protocols::wp::presentation_time::client::wp_presentation_feedback::{
    self, WpPresentationFeedback,
};
use wayland_sys::client::*;
use wayland_sys::common::{wl_argument, wl_dispatcher_func_t, wl_interface, wl_message};
use wayland_sys::ffi_dispatch;

use super::buffer::Slot;
use super::stats::PresentationData;
use super::surface_requests;
use crate::lock;

/// What happened to a frame's objects, for the dispatch thread to act on.
pub(super) enum FrameEvent {
    /// The frame callback of window `window` (its generation): the
    /// compositor wants a new frame.
    Done { window: u64 },
    /// The frame was shown at `presented_ns` (the presentation clock);
    /// `zero_copy`: scanned out from the client's buffer.
    Presented {
        data: PresentationData,
        presented_ns: u64,
        zero_copy: bool,
    },
    /// The frame was never shown.
    Discarded { data: PresentationData },
    /// The compositor is done reading a frame's `wl_buffer`
    /// (`wl_buffer.release`).
    Released { slot: Arc<Slot> },
}

struct ProxyPtr(*mut wl_proxy);

// SAFETY: a proxy pointer is only an address here, compared and handed to
// libwayland (whose proxy calls take its display lock) by whoever took it
// out of the lists under their lock; the lists make sure that happens
// once. A destroy on another thread while the dispatcher runs for the
// same proxy is sound: libwayland holds a reference on a proxy for each
// event queued for it, checks under the display lock that it was not
// destroyed before calling the dispatcher, and frees it only after; and
// the dispatcher finds it no longer listed and leaves it alone.
unsafe impl Send for ProxyPtr {}

/// A frame's `wl_buffer`, made by [`FrameObjects::buffer_from_params`] or
/// [`FrameObjects::buffer_from_pool`]; [`FrameObjects::destroy_buffer`]
/// destroys it, once, unless the presenter's teardown did.
pub(super) struct BufferProxy(ProxyPtr);

// SAFETY: only the address is shared; see `ProxyPtr`.
unsafe impl Sync for BufferProxy {}

impl BufferProxy {
    /// Its proxy, for a request that takes it as an argument (`attach`).
    pub(super) fn as_ptr(&self) -> *mut wl_proxy {
        self.0.0
    }
}

#[derive(Default)]
struct Lists {
    /// Frame callbacks, with the generation of the window they are for.
    callbacks: SmallVec<[(ProxyPtr, u64); 2]>,
    feedbacks: SmallVec<[(ProxyPtr, PresentationData); 8]>,
    /// Frames' `wl_buffer`s, with where their release is reported.
    buffers: SmallVec<[(ProxyPtr, Arc<Slot>); 16]>,
    events: SmallVec<[FrameEvent; 8]>,
}

/// The frame buffers, callbacks and presentation feedbacks alive, and what
/// they reported since the dispatch thread last looked.
#[derive(Default)]
pub(super) struct FrameObjects {
    lists: Mutex<Lists>,
}

impl FrameObjects {
    /// Ask for a frame callback on `surface` (`wl_surface.frame`), the video
    /// surface of window `window` (its generation); false if libwayland made
    /// no object (out of memory, or the surface's proxy is gone).
    pub(super) fn request_callback(&self, surface: &WlSurface, window: u64) -> bool {
        let surface_ptr = surface.id().as_ptr();
        let Some(interface) = WlCallback::interface().c_ptr else {
            return false;
        };
        if surface_ptr.is_null() {
            return false;
        }
        // SAFETY: the surface proxy is alive: the caller reached it through
        // the presenter's window under the presenter's lock, and a window
        // is taken out under that lock before its surfaces are destroyed;
        // wl_surface.frame is (new_id wl_callback).
        let callback = unsafe {
            create(
                surface_ptr,
                wl_surface::REQ_FRAME_OPCODE,
                &mut [new_id()],
                interface,
            )
        };
        self.listen(callback, callback_event, |lists, proxy| {
            lists.callbacks.push((proxy, window))
        })
    }

    /// Ask for presentation feedback on the next commit of `surface` (of
    /// window `data.window`); false if libwayland made no object.
    pub(super) fn request_feedback(
        &self,
        presentation: &WpPresentation,
        surface: &WlSurface,
        data: PresentationData,
    ) -> bool {
        let (presentation_ptr, surface_ptr) = (presentation.id().as_ptr(), surface.id().as_ptr());
        let Some(interface) = WpPresentationFeedback::interface().c_ptr else {
            return false;
        };
        if presentation_ptr.is_null() || surface_ptr.is_null() {
            return false;
        }
        let surface_arg = wl_argument {
            o: surface_ptr.cast::<c_void>(),
        };
        // SAFETY: both proxies are alive (the global until the presenter
        // goes, the surface as above); wp_presentation.feedback is
        // (object wl_surface, new_id wp_presentation_feedback).
        let feedback = unsafe {
            create(
                presentation_ptr,
                wp_presentation::REQ_FEEDBACK_OPCODE,
                &mut [surface_arg, new_id()],
                interface,
            )
        };
        self.listen(feedback, feedback_event, |lists, proxy| {
            lists.feedbacks.push((proxy, data))
        })
    }

    /// A `wl_buffer` from dma-buf `params` (`create_immed`), whose releases
    /// are reported for `slot`; None if libwayland made no object.
    pub(super) fn buffer_from_params(
        &self,
        params: &ZwpLinuxBufferParamsV1,
        (width, height): (i32, i32),
        fourcc: u32,
        flags: zwp_linux_buffer_params_v1::Flags,
        slot: Arc<Slot>,
    ) -> Option<BufferProxy> {
        let args = [
            new_id(),
            wl_argument { i: width },
            wl_argument { i: height },
            wl_argument { u: fourcc },
            wl_argument { u: flags.bits() },
        ];
        // SAFETY: `params` is alive (the caller holds it) and not used
        // yet; create_immed is (new_id wl_buffer, int width, int height,
        // uint format, uint flags).
        unsafe {
            self.make_buffer(
                params,
                zwp_linux_buffer_params_v1::REQ_CREATE_IMMED_OPCODE,
                args,
                slot,
            )
        }
    }

    /// A `wl_buffer` from `pool` (`create_buffer`), whose releases are
    /// reported for `slot`; None if libwayland made no object.
    pub(super) fn buffer_from_pool(
        &self,
        pool: &WlShmPool,
        [offset, width, height, stride]: [i32; 4],
        format: u32,
        slot: Arc<Slot>,
    ) -> Option<BufferProxy> {
        let int = |i: i32| wl_argument { i };
        let args = [
            new_id(),
            int(offset),
            int(width),
            int(height),
            int(stride),
            wl_argument { u: format },
        ];
        // SAFETY: `pool` is alive (the caller holds it); create_buffer is
        // (new_id wl_buffer, int offset, int width, int height, int stride,
        // uint format).
        unsafe { self.make_buffer(pool, wl_shm_pool::REQ_CREATE_BUFFER_OPCODE, args, slot) }
    }

    /// Destroy `buffer` (`wl_buffer.destroy`, and its proxy) unless the
    /// presenter's teardown did already.
    ///
    /// Under the lists' lock, so that a teardown on another thread cannot
    /// find the list empty, go on and close the connection while this
    /// still calls libwayland (lock order: the lists, then libwayland's
    /// display lock, which no dispatcher holds while it runs).
    pub(super) fn destroy_buffer(&self, buffer: &BufferProxy) {
        let mut lists = lock(&self.lists);
        let Some(index) = lists.buffers.iter().position(|(p, _)| p.0 == buffer.0.0) else {
            return;
        };
        lists.buffers.swap_remove(index);
        // SAFETY: taken out of the list, so destroyed once, here; the
        // connection lives while it is listed (see above).
        unsafe { destroy_wl_buffer(buffer.0.0) };
    }

    /// Destroy every frame's `wl_buffer` still alive, cached on frames or
    /// not: the presenter goes. A frame's later drop finds its own gone.
    /// Returns whether there were any.
    pub(super) fn destroy_buffers(&self) -> bool {
        let mut lists = lock(&self.lists);
        let buffers = std::mem::take(&mut lists.buffers);
        for (proxy, _) in &buffers {
            // SAFETY: taken out of the list, so destroyed once, here.
            unsafe { destroy_wl_buffer(proxy.0) };
        }
        !buffers.is_empty()
    }

    /// What was reported since the last call, oldest first.
    pub(super) fn take_events(&self) -> SmallVec<[FrameEvent; 8]> {
        std::mem::take(&mut lock(&self.lists).events)
    }

    /// Destroy the objects still alive of windows up to `generation`: they
    /// were destroyed (the compositor sent what it had). Their events, if
    /// any still come, are ignored.
    pub(super) fn destroy_up_to(&self, generation: u64) {
        let mut taken: SmallVec<[ProxyPtr; 8]> = SmallVec::new();
        {
            let mut lists = lock(&self.lists);
            let Lists {
                callbacks,
                feedbacks,
                ..
            } = &mut *lists;
            callbacks.retain(|(proxy, window)| {
                let old = *window <= generation;
                if old {
                    taken.push(ProxyPtr(proxy.0));
                }
                !old
            });
            feedbacks.retain(|(proxy, data)| {
                let old = data.window <= generation;
                if old {
                    taken.push(ProxyPtr(proxy.0));
                }
                !old
            });
        }
        for proxy in taken {
            // SAFETY: taken out of the lists, so destroyed once, here.
            unsafe { destroy(proxy.0) };
        }
    }

    /// Destroy every object still alive, and forget what they reported:
    /// the presenter goes (its dispatch thread stopped).
    pub(super) fn destroy_all(&self) {
        self.destroy_up_to(u64::MAX);
        self.destroy_buffers();
        lock(&self.lists).events.clear();
    }

    /// Send request `opcode` on `parent` with `args`, which makes a
    /// `wl_buffer` (its new id first), and keep it, with `slot` for its
    /// releases, until it is destroyed.
    ///
    /// # Safety
    /// `parent` is alive; `args` match the request's signature.
    unsafe fn make_buffer<const N: usize>(
        &self,
        parent: &impl Proxy,
        opcode: u16,
        mut args: [wl_argument; N],
        slot: Arc<Slot>,
    ) -> Option<BufferProxy> {
        let parent_ptr = parent.id().as_ptr();
        let interface = WlBuffer::interface().c_ptr?;
        if parent_ptr.is_null() {
            return None;
        }
        // SAFETY: the caller's contract.
        let buffer = unsafe { create(parent_ptr, opcode, &mut args, interface) };
        let kept = self.listen(buffer, buffer_event, |lists, proxy| {
            lists.buffers.push((proxy, slot))
        });
        kept.then_some(BufferProxy(ProxyPtr(buffer)))
    }

    /// Listen to `proxy` (null: the request was not sent) and keep it in
    /// the lists (`keep`) until its last event.
    ///
    /// No event can be missed between its creation and this: every one of
    /// these objects reports on a commit that the caller sends after this
    /// returns.
    fn listen(
        &self,
        proxy: *mut wl_proxy,
        dispatcher: wl_dispatcher_func_t,
        keep: impl FnOnce(&mut Lists, ProxyPtr),
    ) -> bool {
        if proxy.is_null() {
            return false;
        }
        let mut lists = lock(&self.lists);
        // SAFETY: `proxy` is new and has no listener yet; `dispatcher`
        // handles its interface's events; the implementation pointer,
        // `self`, is kept by the presenter's `Shared`, which the dispatch
        // thread (the only one dispatching this queue) holds while it
        // dispatches; and the proxy is destroyed before the presenter's
        // connection goes (`destroy_all` in its drop).
        unsafe {
            ffi_dispatch!(
                wayland_client_handle(),
                wl_proxy_add_dispatcher,
                proxy,
                dispatcher,
                ptr::from_ref(self).cast(),
                ptr::null_mut()
            );
        }
        keep(&mut lists, ProxyPtr(proxy));
        true
    }

    /// `proxy`, a frame callback, is done: out of the list and destroyed.
    /// Nothing if someone else took it already.
    fn callback_done(&self, proxy: *mut wl_proxy) {
        let mut lists = lock(&self.lists);
        let Some(index) = lists.callbacks.iter().position(|(p, _)| p.0 == proxy) else {
            return;
        };
        let (_, window) = lists.callbacks.swap_remove(index);
        lists.events.push(FrameEvent::Done { window });
        drop(lists);
        // SAFETY: taken out of the list, so destroyed once, here; libwayland
        // lets an object's event handler destroy it.
        unsafe { destroy(proxy) };
    }

    /// `proxy`, a frame's buffer, was released: noted for its slot, unless
    /// the buffer was destroyed meanwhile (no longer listed).
    fn buffer_released(&self, proxy: *mut wl_proxy) {
        let mut lists = lock(&self.lists);
        if let Some((_, slot)) = lists.buffers.iter().find(|(p, _)| p.0 == proxy) {
            let slot = slot.clone();
            lists.events.push(FrameEvent::Released { slot });
        }
    }

    /// `proxy`, a presentation feedback, sent its last event: out of the
    /// list and destroyed, and `event` (given the frame's data) noted.
    /// Nothing if someone else took it already.
    fn feedback_done(
        &self,
        proxy: *mut wl_proxy,
        event: impl FnOnce(PresentationData) -> FrameEvent,
    ) {
        let mut lists = lock(&self.lists);
        let Some(index) = lists.feedbacks.iter().position(|(p, _)| p.0 == proxy) else {
            return;
        };
        let (_, data) = lists.feedbacks.swap_remove(index);
        lists.events.push(event(data));
        drop(lists);
        // SAFETY: as in `callback_done`.
        unsafe { destroy(proxy) };
    }
}

impl Drop for FrameObjects {
    fn drop(&mut self) {
        // Too late to destroy them here (their connection and queue may
        // be gone): the presenter's drop does it before.
        let lists = self.lists.get_mut().unwrap_or_else(|p| p.into_inner());
        debug_assert!(
            std::thread::panicking()
                || (lists.callbacks.is_empty()
                    && lists.feedbacks.is_empty()
                    && lists.buffers.is_empty()),
            "frame objects left alive: {} callbacks, {} feedbacks, {} buffers",
            lists.callbacks.len(),
            lists.feedbacks.len(),
            lists.buffers.len()
        );
    }
}

/// A request's new-object argument, which libwayland fills in.
fn new_id() -> wl_argument {
    wl_argument { o: ptr::null() }
}

/// Send request `opcode` on `parent`, which creates an object of
/// `interface` (on `parent`'s queue, at its version); null if it failed.
///
/// # Safety
/// `parent` is a live proxy of this connection; `args` match the
/// request's signature, with a null new-id argument.
unsafe fn create(
    parent: *mut wl_proxy,
    opcode: u16,
    args: &mut [wl_argument],
    interface: &'static wl_interface,
) -> *mut wl_proxy {
    // SAFETY: the caller's contract; libwayland copies the arguments.
    unsafe {
        ffi_dispatch!(
            wayland_client_handle(),
            wl_proxy_marshal_array_constructor,
            parent,
            u32::from(opcode),
            args.as_mut_ptr(),
            interface
        )
    }
}

/// Forget an object the compositor destroys itself (a callback after
/// `done`, a feedback after its last event): the proxy only.
///
/// # Safety
/// `proxy` was made by [`create`] and is destroyed once.
unsafe fn destroy(proxy: *mut wl_proxy) {
    // SAFETY: the caller's contract.
    unsafe { ffi_dispatch!(wayland_client_handle(), wl_proxy_destroy, proxy) }
}

/// Destroy a `wl_buffer`: its destructor request, so that the compositor
/// lets go of the memory behind it, then its proxy.
///
/// # Safety
/// `proxy` is a `wl_buffer` made by [`create`], destroyed once, on a live
/// connection.
unsafe fn destroy_wl_buffer(proxy: *mut wl_proxy) {
    // SAFETY: the caller's contract; wl_buffer.destroy takes no arguments
    // (libwayland reads none of the one given).
    unsafe {
        surface_requests::marshal(
            proxy,
            wl_buffer::REQ_DESTROY_OPCODE,
            &mut [wl_argument { i: 0 }],
        );
        destroy(proxy);
    }
}

/// The objects a dispatcher's implementation pointer points at.
///
/// # Safety
/// `implementation` is the pointer [`FrameObjects::listen`] gave (alive
/// while the dispatch thread dispatches).
unsafe fn objects<'a>(implementation: *const c_void) -> &'a FrameObjects {
    // SAFETY: the caller's contract.
    unsafe { &*implementation.cast::<FrameObjects>() }
}

/// A frame callback's events (`done`, its only one).
unsafe extern "C" fn callback_event(
    implementation: *const c_void,
    proxy: *mut c_void,
    opcode: u32,
    _: *const wl_message,
    _: *const wl_argument,
) -> c_int {
    if opcode == u32::from(wl_callback::EVT_DONE_OPCODE) {
        // SAFETY: libwayland passes the implementation `listen` gave.
        unsafe { objects(implementation) }.callback_done(proxy.cast());
    }
    0
}

/// A frame buffer's events (`release`, its only one).
unsafe extern "C" fn buffer_event(
    implementation: *const c_void,
    proxy: *mut c_void,
    opcode: u32,
    _: *const wl_message,
    _: *const wl_argument,
) -> c_int {
    if opcode == u32::from(wl_buffer::EVT_RELEASE_OPCODE) {
        // SAFETY: libwayland passes the implementation `listen` gave.
        unsafe { objects(implementation) }.buffer_released(proxy.cast());
    }
    0
}

/// A presentation feedback's events: `sync_output` (which output showed
/// it; not used), then `presented` or `discarded`, its last.
unsafe extern "C" fn feedback_event(
    implementation: *const c_void,
    proxy: *mut c_void,
    opcode: u32,
    _: *const wl_message,
    args: *const wl_argument,
) -> c_int {
    // SAFETY: libwayland passes the implementation `listen` gave.
    let objects = unsafe { objects(implementation) };
    if opcode == u32::from(wp_presentation_feedback::EVT_PRESENTED_OPCODE) {
        let arg = |i: usize| {
            // SAFETY: `presented` carries seven uints (tv_sec_hi,
            // tv_sec_lo, tv_nsec, refresh, seq_hi, seq_lo, flags), which
            // libwayland demarshalled by the protocol's signature.
            unsafe { (*args.add(i)).u }
        };
        let [sec_hi, sec_lo, nsec, flags] = [arg(0), arg(1), arg(2), arg(6)];
        let seconds = (u64::from(sec_hi) << 32) | u64::from(sec_lo);
        // The compositor's clock: saturating, whatever it sends.
        let presented_ns = seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(nsec));
        let zero_copy = flags & wp_presentation_feedback::Kind::ZeroCopy.bits() != 0;
        objects.feedback_done(proxy.cast(), |data| FrameEvent::Presented {
            data,
            presented_ns,
            zero_copy,
        });
    } else if opcode == u32::from(wp_presentation_feedback::EVT_DISCARDED_OPCODE) {
        objects.feedback_done(proxy.cast(), |data| FrameEvent::Discarded { data });
    }
    0
}
