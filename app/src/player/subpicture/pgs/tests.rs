use super::write::{composition, display_set, end, object, palette};
use super::*;

/// Entries 1 (opaque white), 2 (BT.709 red at half alpha) and 3 (opaque
/// black).
fn entries() -> Vec<[u8; 5]> {
    vec![
        [1, 235, 128, 128, 255],
        [2, 63, 240, 102, 128],
        [3, 16, 128, 128, 255],
    ]
}

fn argb(index: u8) -> u32 {
    let e = entries()[usize::from(index) - 1];
    premultiplied(ycrcb_to_rgb(Matrix::Bt709, [e[1], e[2], e[3]]), e[4])
}

/// Rows mixing every code: single pixels, short and long runs of index 0
/// and of other indices.
fn rows(width: usize, height: usize) -> Vec<Vec<u8>> {
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| match (x / 7 + y) % 4 {
                    0 => 0,
                    n if x > 100 => n as u8,
                    _ => ((x + y) % 4) as u8,
                })
                .collect()
        })
        .collect()
}

fn expected(rows: &[Vec<u8>]) -> Vec<u32> {
    rows.iter()
        .flatten()
        .map(|&i| if i == 0 { 0 } else { argb(i) })
        .collect()
}

#[test]
fn a_display_set_shows_its_object_in_its_palette_where_it_is_placed() {
    for (width, height, parts) in [(1, 1, 1), (4, 3, 1), (300, 20, 3)] {
        let rows = rows(width, height);
        let mut segments = vec![
            composition((1920, 1080), EPOCH_START, 0, &[(7, 500, 900, None)]),
            palette(0, &entries()),
        ];
        segments.extend(object(7, &rows, parts));
        segments.push(end());
        let shown = Decoder::default()
            .decode(&display_set(&segments))
            .expect("decodes");
        let Some(Shown::Picture(image)) = shown else {
            panic!("{width}x{height}: no picture: {shown:?}");
        };
        assert_eq!(
            (image.x, image.y, image.width, image.height, image.frame),
            (500, 900, width as u32, height as u32, Some((1920, 1080)))
        );
        assert_eq!(
            image.argb,
            expected(&rows),
            "{width}x{height} in {parts} parts"
        );
    }
}

#[test]
fn later_display_sets_reuse_objects_and_palettes_until_an_epoch_starts() {
    let rows = rows(8, 4);
    let mut decoder = Decoder::default();
    let mut first = vec![
        composition((1920, 1080), EPOCH_START, 0, &[(1, 10, 20, None)]),
        palette(0, &entries()),
    ];
    first.extend(object(1, &rows, 1));
    first.push(end());
    assert!(matches!(
        decoder.decode(&display_set(&first)),
        Ok(Some(Shown::Picture(_)))
    ));
    // Moved, with entry 1 made transparent: no object segment.
    let moved = display_set(&[
        composition((1920, 1080), 0, 0, &[(1, 30, 40, None)]),
        palette(0, &[[1, 235, 128, 128, 0]]),
        end(),
    ]);
    let Ok(Some(Shown::Picture(image))) = decoder.decode(&moved) else {
        panic!("the moved object is not shown");
    };
    assert_eq!((image.x, image.y), (30, 40));
    let want: Vec<u32> = rows
        .iter()
        .flatten()
        .map(|&i| if i <= 1 { 0 } else { argb(i) })
        .collect();
    assert_eq!(image.argb, want);
    // Cleared.
    let cleared = display_set(&[composition((1920, 1080), 0, 0, &[]), end()]);
    assert_eq!(decoder.decode(&cleared), Ok(Some(Shown::Cleared)));
    // A new epoch forgets object 1.
    let epoch = display_set(&[
        composition((1920, 1080), EPOCH_START, 0, &[(1, 0, 0, None)]),
        end(),
    ]);
    assert_eq!(
        decoder.decode(&epoch),
        Err(SubpictureError::MissingObject { id: 1 })
    );
}

#[test]
fn two_objects_compose_into_one_picture_and_cropping_cuts_an_object() {
    let a = vec![vec![1u8; 4]; 2];
    let b = vec![vec![3u8; 6]; 5];
    let mut segments = vec![
        composition(
            (720, 576),
            EPOCH_START,
            2,
            &[(1, 100, 100, None), (2, 110, 101, Some([1, 1, 3, 2]))],
        ),
        palette(2, &entries()),
    ];
    segments.extend(object(1, &a, 1));
    segments.extend(object(2, &b, 2));
    segments.push(end());
    let Ok(Some(Shown::Picture(image))) = Decoder::default().decode(&display_set(&segments)) else {
        panic!("no picture");
    };
    // Bounds: x 100..113, y 100..103.
    assert_eq!(
        (image.x, image.y, image.width, image.height),
        (100, 100, 13, 3)
    );
    // A 576-line frame: BT.601.
    let white = premultiplied(ycrcb_to_rgb(Matrix::Bt601, [235, 128, 128]), 255);
    let black = premultiplied(ycrcb_to_rgb(Matrix::Bt601, [16, 128, 128]), 255);
    let at = |x: u32, y: u32| image.argb[(y * image.width + x) as usize];
    assert_eq!(at(0, 0), white);
    assert_eq!(at(3, 1), white);
    assert_eq!(at(0, 2), 0);
    assert_eq!(at(10, 1), black);
    assert_eq!(at(12, 2), black);
    assert_eq!(at(10, 0), 0);
    assert_eq!(at(5, 1), 0);
}

#[test]
fn cut_damaged_or_oversized_display_sets_are_errors_never_panics() {
    let mut segments = vec![
        composition(
            (1920, 1080),
            EPOCH_START,
            0,
            &[(7, 5, 9, Some([0, 0, 20, 4]))],
        ),
        palette(0, &entries()),
    ];
    segments.extend(object(7, &rows(40, 6), 2));
    segments.push(end());
    let whole = display_set(&segments);
    for len in 0..whole.len() {
        let _ = Decoder::default().decode(&whole[..len]);
    }
    for at in 0..whole.len() {
        for flip in [0x01, 0x10, 0x80, 0xff] {
            let mut damaged = whole.clone();
            damaged[at] ^= flip;
            let _ = Decoder::default().decode(&damaged);
        }
    }
    let huge = display_set(&[composition(
        (1920, 1080),
        EPOCH_START,
        0,
        &[(1, 0, 0, None), (2, 60000, 60000, None)],
    )]);
    let mut decoder = Decoder::default();
    decoder.decode(&huge).expect("a composition alone");
    let mut objects = object(1, &[vec![1]], 1);
    objects.extend(object(2, &[vec![1]], 1));
    objects.push(end());
    assert_eq!(
        decoder.decode(&display_set(&objects)),
        Err(SubpictureError::CompositionTooLarge {
            width: 60001,
            height: 60001
        })
    );
    let mut big = object(3, &[vec![1]], 1);
    big[0].1[7..11].copy_from_slice(&[0x20, 0x00, 0x00, 0x10]);
    let error = Decoder::default()
        .decode(&display_set(&big))
        .expect_err("too large");
    assert_eq!(
        error.to_string(),
        "object 3 is 8192x16: at most 4096 pixels on a side"
    );
    let error = Decoder::default()
        .decode(&[0x42, 0, 0])
        .expect_err("unknown");
    assert_eq!(
        error.to_string(),
        "segment at byte 0 has the unknown type 0x42 (PGS has 0x14-0x17 and 0x80)"
    );
}
