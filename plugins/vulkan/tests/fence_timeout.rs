//! A conversion whose fence wait times out leaves its submission running:
//! the converter must not re-record that command buffer (or rewrite its
//! descriptor sets) until the fence signalled, and the next conversion must
//! still be right.

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
