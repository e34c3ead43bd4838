//! A presenter's second window, made after its first was destroyed, gets
//! frame callbacks and presentation feedback of its own: every frame given
//! to either window is committed and presented, none waits for a callback
//! that belonged to the old window. (The frame objects carry their
//! window's generation; a late event of the old window must not count for
//! the new one, and taking the old one down must not destroy the new one's
//! objects.) Natively, on a headless Weston, with wl_shm frames.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{frames, wait_for};

const FRAMES_PER_WINDOW: u64 = 6;

#[test]
fn a_second_window_gets_its_own_frame_callbacks_and_feedback() {
    let weston = common::weston();
    let presenter = common::connect(&weston);
    assert!(
        presenter.capabilities().has_presentation,
        "Weston has wp_presentation"
    );
    let layout = common::layout();

    let mut frame_id = 0;
    for window in 1..=2 {
        common::window(&presenter, "window again");
        let frames = frames(&presenter, &layout, 2);
        for i in 0..FRAMES_PER_WINDOW {
            frame_id += 1;
            let (_, buffer) = &frames[i as usize % 2];
            // The other frame's buffer is released once this one is shown.
            wait_for(&presenter, "the buffer back", |_| !buffer.is_busy());
            presenter
                .present(buffer, frame_id, Box::new(()), None, None)
                .expect("presented");
            // Each frame is committed at once (the previous one's frame
            // callback came) and presented.
            wait_for(&presenter, "the frame presented", |s| {
                s.frames_presented == frame_id
            });
        }
        let stats = presenter.stats();
        assert_eq!(
            stats.frames_committed,
            window * FRAMES_PER_WINDOW,
            "{stats:?}"
        );
        assert_eq!(stats.frames_replaced, 0, "{stats:?}");
        assert_eq!(stats.buffers_reused_while_held, 0, "{stats:?}");
        presenter.destroy_window();
        drop(frames);
    }
    drop(presenter);
}
