//! `zcvulkanconvert` leaks no fds over 1,000 frames (memfd frames, VkBuffer
//! path natively). A test binary of its own: other tests running in the
//! same process would open and close fds under the count.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[test]
fn a_thousand_frames_keep_the_fd_count_flat() {
    let fds = zc_dmabuf::fds::count;
    let run = |frames: u32| {
        common::run_to_eos(&format!(
            "videotestsrc num-buffers={frames} ! video/x-raw,format=NV12,width=64,height=48 \
             ! zcexport ! zcvulkanconvert name=convert ! fakesink"
        ))
        .expect("pipeline runs")
    };
    common::init();
    run(5);
    let before = fds();
    let start = std::time::Instant::now();
    run(1000);
    eprintln!("1000 frames 64x48 NV12 -> RGBA in {:?}", start.elapsed());
    assert_eq!(fds(), before, "fds leaked over 1000 frames");
}
