//! Dma-buf frames as `wl_buffer`s (`zwp_linux_buffer_params_v1`): each
//! format, modifier and interlacing is tried once with a round trip, then
//! buffers are made at once.

use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex};

use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::{
    self, ZwpLinuxBufferParamsV1,
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1;
use zc_dmabuf::{FrameLayout, Modifier};

use super::buffer::{BufferKind, FrameBuffer};
use super::capabilities::describe;
use super::{Presenter, State};
use crate::error::WaylandError;
use crate::feedback::FormatModifier;
use crate::lock;

/// How a frame's lines are laid out in time: linux-dmabuf's buffer flags
/// `INTERLACED` and `BOTTOM_FIRST`. A compositor that cannot show
/// interlaced content refuses such buffers (`failed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Interlacing {
    #[default]
    Progressive,
    /// Both fields woven in one frame, the top one first.
    TopFieldFirst,
    /// Both fields woven in one frame, the bottom one first.
    BottomFieldFirst,
}

impl Interlacing {
    fn flags(self) -> zwp_linux_buffer_params_v1::Flags {
        use zwp_linux_buffer_params_v1::Flags;
        match self {
            Interlacing::Progressive => Flags::empty(),
            Interlacing::TopFieldFirst => Flags::Interlaced,
            Interlacing::BottomFieldFirst => Flags::Interlaced | Flags::BottomFirst,
        }
    }
}

impl std::fmt::Display for Interlacing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interlacing::Progressive => "progressive",
            Interlacing::TopFieldFirst => "interlaced, top field first",
            Interlacing::BottomFieldFirst => "interlaced, bottom field first",
        })
    }
}

/// The answer to an asynchronous `create`, filled in by the dispatch thread.
#[derive(Default)]
struct ParamsData {
    result: Mutex<Option<Result<WlBuffer, ()>>>,
}

impl Presenter {
    /// Make a `wl_buffer` for a dma-buf frame: `fds[i]` is buffer `i` of the
    /// layout, with `create_immed`. The first frame of each format,
    /// modifier and interlacing is tried first with a round trip
    /// (`create`), so that a rejection is an error, not a disconnect; a
    /// combination the compositor refused once is refused from then on
    /// without asking.
    pub fn import_dmabuf(
        &self,
        layout: &FrameLayout,
        fds: &[BorrowedFd<'_>],
        allow_implicit: bool,
        interlacing: Interlacing,
    ) -> Result<Arc<FrameBuffer>, WaylandError> {
        let dmabuf = self
            .globals
            .dmabuf
            .as_ref()
            .ok_or(WaylandError::MissingGlobal {
                interface: "zwp_linux_dmabuf_v1",
                min: 3,
            })?;
        let (fourcc, modifier) = (layout.fourcc(), layout.modifier());
        if modifier == Modifier::INVALID && !allow_implicit {
            return Err(WaylandError::ImplicitModifier { fourcc });
        }
        let rejected = WaylandError::BufferRejected {
            fourcc,
            modifier,
            width: layout.width(),
            height: layout.height(),
            interlacing,
        };
        let key = (fourcc, modifier, interlacing);
        let immediate = {
            let inner = lock(&self.shared.inner);
            inner.check_lost()?;
            let pair = FormatModifier { fourcc, modifier };
            if !inner.caps.dmabuf_formats.contains(&pair) {
                return Err(WaylandError::FormatNotOffered {
                    fourcc,
                    modifier,
                    offered: describe(&inner.caps.dmabuf_formats),
                });
            }
            if inner.rejected.contains(&key) {
                return Err(rejected);
            }
            inner.proven.contains(&key)
        };
        if let Some((index, plane)) = layout
            .planes()
            .iter()
            .enumerate()
            .find(|(_, plane)| plane.buffer >= fds.len())
        {
            return Err(WaylandError::ShmLayout {
                what: format!("plane {index}"),
                why: format!(
                    "it lives in buffer {} but {} fds were given",
                    plane.buffer,
                    fds.len()
                ),
            });
        }
        let (width, height) = (layout.width() as i32, layout.height() as i32);
        let flags = interlacing.flags();
        let params_data = Arc::new(ParamsData::default());
        if !immediate {
            let params = self.dmabuf_params(dmabuf, layout, fds, params_data.clone());
            params.create(width, height, fourcc.0, flags);
            self.flush()?;
            let mut created = None;
            self.wait_for("the compositor to create a dma-buf wl_buffer", |_| {
                created = lock(&params_data.result).take();
                created.is_some()
            })?;
            params.destroy();
            match created {
                // Made by wayland-rs, whose dispatch of its releases costs
                // more per frame than zc's own: a trial, made again below.
                Some(Ok(trial)) => {
                    trial.destroy();
                    lock(&self.shared.inner).proven.insert(key);
                }
                _ => {
                    lock(&self.shared.inner).rejected.insert(key);
                    return Err(rejected);
                }
            }
        }
        let params = self.dmabuf_params(dmabuf, layout, fds, params_data);
        let size = (layout.width(), layout.height());
        let buffer = self.frame_buffer(BufferKind::DmaBuf, size, None, |objects, slot| {
            objects.buffer_from_params(&params, (width, height), fourcc.0, flags, slot)
        });
        params.destroy();
        self.flush()?;
        buffer
    }

    /// A params object holding the planes of `layout`, whose buffers are
    /// `fds` (checked to be there).
    fn dmabuf_params(
        &self,
        dmabuf: &ZwpLinuxDmabufV1,
        layout: &FrameLayout,
        fds: &[BorrowedFd<'_>],
        data: Arc<ParamsData>,
    ) -> ZwpLinuxBufferParamsV1 {
        let modifier = layout.modifier();
        let params = dmabuf.create_params(&self.queue_handle, data);
        for (index, plane) in layout.planes().iter().enumerate() {
            params.add(
                fds[plane.buffer],
                index as u32,
                plane.offset as u32,
                plane.stride,
                (modifier.0 >> 32) as u32,
                modifier.0 as u32,
            );
        }
        params
    }
}

impl Dispatch<ZwpLinuxBufferParamsV1, Arc<ParamsData>> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxBufferParamsV1,
        event: zwp_linux_buffer_params_v1::Event,
        data: &Arc<ParamsData>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let result = match event {
            zwp_linux_buffer_params_v1::Event::Created { buffer } => Ok(buffer),
            zwp_linux_buffer_params_v1::Event::Failed => Err(()),
            _ => return,
        };
        *lock(&data.result) = Some(result);
        state.shared.changed.notify_all();
    }

    wayland_client::event_created_child!(State, ZwpLinuxBufferParamsV1, [
        zwp_linux_buffer_params_v1::EVT_CREATED_OPCODE => (WlBuffer, ())
    ]);
}
