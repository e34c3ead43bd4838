//! A conversion whose fence wait times out leaves its submission running:
//! the converter must not re-record that command buffer (or rewrite its
//! descriptor sets) until the fence signalled, and the next conversion must
//! still be right.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use zc_dmabuf::{Allocator, Fourcc, FrameRequest, MemfdAllocator};
use zc_vulkan::{
    Colorimetry, Context, Converter, ConverterOptions, DeviceChoice, Error, Matrix, Range,
};

mod pattern;

use pattern::{check, fill};

#[test]
fn a_timed_out_conversion_is_finished_before_the_next_one() {
    let ctx: Arc<Context> =
        Context::new(&DeviceChoice::Auto).expect("a Vulkan device (lavapipe: mesa-vulkan-drivers)");
    let mut conv = Converter::new(ctx, ConverterOptions::default()).expect("converter");
    let (w, h) = (1920, 1080);
    let frame = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::NV12, w, h))
        .expect("memfd frame");
    fill(&frame);
    let colour = Colorimetry {
        matrix: Matrix::Bt709,
        range: Range::Limited,
    };
    let import = conv.import(&frame.layout, &frame.buffers).expect("import");
    let first = conv.allocate_output(w, h).expect("output");
    let second = conv.allocate_output(w, h).expect("output");
    // No time at all for the GPU: a 1080p conversion on it takes far longer.
    conv.set_fence_timeout(Duration::ZERO);
    let timed_out = (0..5).any(
        |_| match conv.convert_import_into(&import, colour, &first) {
            Err(Error::GpuTimeout(_)) => true,
            Ok(()) => false,
            Err(e) => panic!("{e}"),
        },
    );
    assert!(
        timed_out,
        "5 conversions of 1080p each finished within 0 ns"
    );
    // With time again: the running submission is waited for first, then
    // the command buffer is recorded anew for this one.
    conv.set_fence_timeout(Duration::from_secs(20));
    conv.convert_import_into(&import, colour, &second)
        .expect("the conversion after a timed-out one");
    for out in [&second, &first] {
        check(Fourcc::NV12, colour, out.layout(), out.dmabuf(), 2)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A one-off conversion imports the frame and allocates the output for the
/// call only: when its fence wait times out, both are dropped on return
/// while the GPU may still use them. The converter keeps them alive until
/// the submission finished.
#[test]
fn a_timed_out_one_off_conversion_keeps_what_it_uses_alive() {
    let ctx: Arc<Context> =
        Context::new(&DeviceChoice::Auto).expect("a Vulkan device (lavapipe: mesa-vulkan-drivers)");
    let mut conv = Converter::new(ctx, ConverterOptions::default()).expect("converter");
    let (w, h) = (1920, 1080);
    let colour = Colorimetry {
        matrix: Matrix::Bt601,
        range: Range::Full,
    };
    conv.set_fence_timeout(Duration::ZERO);
    let timed_out = (0..5).any(|_| {
        let frame = MemfdAllocator
            .allocate(&FrameRequest::new(Fourcc::NV12, w, h))
            .expect("memfd frame");
        fill(&frame);
        // The frame, its import and the output all go when this returns.
        match conv.convert(&frame.layout, &frame.buffers, colour) {
            Err(Error::GpuTimeout(_)) => true,
            Ok(_) => false,
            Err(e) => panic!("{e}"),
        }
    });
    assert!(
        timed_out,
        "5 conversions of 1080p each finished within 0 ns"
    );
    conv.set_fence_timeout(Duration::from_secs(20));
    let frame = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::NV12, w, h))
        .expect("memfd frame");
    fill(&frame);
    let out = conv
        .convert(&frame.layout, &frame.buffers, colour)
        .expect("the conversion after a timed-out one");
    check(Fourcc::NV12, colour, &out.layout, &out.buffer, 2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(conv.live_imports(), 0);
}
