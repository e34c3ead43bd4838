//! Interop of modifiers, on whichever Debian root the VM booted
//! (`ZC_DISTRO`; `cargo xtask test` runs this binary on all three): a
//! tiled modifier that zc cannot lay out or import is refused at
//! negotiation with the modifier named and what would be taken, whether
//! it comes from upstream (a hardware decoder's caps) or is asked for
//! downstream of zcexport; no frame is ever imported with another layout.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../plugins/gst/tests/common/mod.rs"]
mod common;

use common::init;
use gst::prelude::*;
use zc_vm_tests::require_vm;
use zc_vm_tests::weston::{Renderer, Weston};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

/// A producer whose caps name a tiled modifier (as a VA or V4L2 decoder's
/// would) is refused at negotiation by an importer that cannot take it,
/// with a message naming the modifier and what would be taken, and no frame
/// is imported with another layout: here Weston's linux-dmabuf table and
/// lavapipe both import NV12 as LINEAR only. On 1.22 the same caps are
/// refused too (no element there speaks DMA_DRM).
#[test]
fn a_tiled_producer_is_refused_with_its_modifier_named() {
    require_vm();
    init();
    let weston = Weston::start(Renderer::Gl, WIDTH, HEIGHT);
    let tiled: gst::Caps = format!(
        "video/x-raw(memory:DMABuf), format=DMA_DRM, drm-format=NV12:0x0100000000000002, \
         width={WIDTH}, height={HEIGHT}, framerate=15/1"
    )
    .parse()
    .expect("caps");
    let consumers = [
        (
            format!(
                "zcwaylandsink name=sink display={}",
                weston.socket_path().display()
            ),
            "wl-buffers-created",
        ),
        (
            "zcvulkanconvert name=sink ! fakesink".to_owned(),
            "frames-imported",
        ),
    ];
    for (consumer, imported) in consumers {
        let pipeline = gst::parse::launch(&format!("appsrc name=src format=time ! {consumer}"))
            .expect("pipeline")
            .downcast::<gst::Pipeline>()
            .expect("pipeline");
        let src = pipeline
            .by_name("src")
            .expect("appsrc")
            .downcast::<gst_app::AppSrc>()
            .expect("appsrc");
        // Set after linking: a caps property would already fail the link.
        src.set_caps(Some(&tiled));
        let _ = pipeline.set_state(gst::State::Playing);
        // A real heap dma-buf, laid out linearly but labelled tiled: it
        // must never reach an importer under that label.
        let allocator = gstzerocopy::allocator::ZcDmaBufAllocator::new(
            gstzerocopy::allocator::BackendSetting::Heap,
        );
        let frame = allocator
            .allocate_frame(&zc_dmabuf::FrameRequest::new(
                zc_dmabuf::Fourcc::NV12,
                WIDTH,
                HEIGHT,
            ))
            .expect("heap frame");
        let mut buffer = gst::Buffer::new();
        {
            let buffer = buffer.get_mut().expect("new buffer");
            for memory in frame.memories {
                buffer.append_memory(memory);
            }
            let planes = frame.layout.planes();
            gst_video::VideoMeta::add_full(
                buffer,
                gst_video::VideoFrameFlags::empty(),
                gst_video::VideoFormat::Nv12,
                WIDTH,
                HEIGHT,
                &[planes[0].offset as usize, planes[1].offset as usize],
                &[planes[0].stride as i32, planes[1].stride as i32],
            )
            .expect("video meta");
            buffer.set_pts(gst::ClockTime::ZERO);
        }
        let pushed = src.push_buffer(buffer);
        let _ = src.end_of_stream();
        let mut said = Vec::new();
        let mut failed = false;
        let bus = pipeline.bus().expect("bus");
        for message in bus.iter_timed(gst::ClockTime::from_seconds(120)) {
            match message.view() {
                gst::MessageView::Warning(w) => {
                    said.push(format!("warning: {} ({:?})", w.error(), w.debug()));
                }
                gst::MessageView::Error(e) => {
                    said.push(format!("error: {} ({:?})", e.error(), e.debug()));
                    failed = true;
                    break;
                }
                gst::MessageView::Eos(_) => break,
                _ => {}
            }
        }
        let sink = pipeline.by_name("sink").expect("consumer");
        let imports: u64 = sink.property(imported);
        pipeline.set_state(gst::State::Null).expect("null");
        let said = said.join("\n");
        println!("{consumer}: push {pushed:?}\n{said}");
        assert!(failed, "{consumer}: the tiled stream did not fail:\n{said}");
        assert!(
            said.contains("NV12:0x0100000000000002")
                && said.contains("0x0100000000000002 (Intel tiling)")
                && said.contains("NV12 only with modifier LINEAR"),
            "{consumer}: no message named the modifier and what is taken:\n{said}"
        );
        assert_eq!(imports, 0, "{consumer}: {imported} after a refused stream");
    }
}

/// A consumer that insists on a tiled modifier (a caps filter copied from a
/// hardware pipeline) cannot be fed by zc's linear allocators: zcexport
/// fails negotiation naming the modifier (on 1.22 too, where no stock
/// element speaks DMA_DRM: the caps are plain structures there).
#[test]
fn a_tiled_modifier_downstream_of_zcexport_is_refused_by_name() {
    require_vm();
    init();
    let description = "videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=64,height=48 \
         ! zcexport backend=heap \
         ! video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=NV12:0x0100000000000002 \
         ! fakesink";
    let (_, minor, _, _) = gst::version();
    let error = match gst::parse::launch(description) {
        Err(err) => {
            // Where zcexport's caps query already rules DMA_DRM out.
            assert!(minor < 24, "1.{minor} refused the link: {err}");
            err.to_string()
        }
        Ok(pipeline) => {
            let bus = pipeline.bus().expect("bus");
            let _ = pipeline.set_state(gst::State::Playing);
            let error = bus
                .iter_timed(gst::ClockTime::from_seconds(120))
                .find_map(|message| match message.view() {
                    gst::MessageView::Error(e) => Some(format!("{} ({:?})", e.error(), e.debug())),
                    gst::MessageView::Eos(_) => Some("EOS".to_owned()),
                    _ => None,
                })
                .unwrap_or_else(|| "timed out".to_owned());
            pipeline.set_state(gst::State::Null).expect("null");
            assert!(
                error.contains("0x0100000000000002 (Intel tiling)") && error.contains("LINEAR"),
                "{error}"
            );
            error
        }
    };
    println!("{error}");
    assert!(error.contains("NV12:0x0100000000000002"), "{error}");
}
