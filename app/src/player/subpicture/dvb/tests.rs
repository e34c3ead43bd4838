use super::super::premultiplied;
use super::clut::{IN_2_BIT, IN_4_BIT, IN_8_BIT, entry_argb};
use super::write::{Region, Segment, clut, display, end, object, packet, page, region};
use super::*;

const PAGE_ID: u16 = 1;

fn picture(page: Option<Page>) -> Image {
    match page {
        Some(Page {
            shown: Shown::Picture(image),
            ..
        }) => image,
        other => panic!("no picture: {other:?}"),
    }
}

/// A display set written byte by byte from EN 300 743's syntax tables (not
/// with [`write`]): a 4x2 region of 2-bit pixels at (100, 200) in the
/// default display, its object's top field `1 2 3 1` and an empty bottom
/// field (the top repeated), in the default CLUT.
#[test]
fn a_display_set_written_by_hand_shows_its_region_in_the_default_colours() {
    #[rustfmt::skip]
    let packet = [
        0x20, 0x00,
        // Page composition: time-out 5 s, version 0, acquisition point,
        // region 0 at (100, 200).
        0x0f, 0x10, 0x00, 0x01, 0x00, 0x08,
        0x05, 0x04, 0x00, 0x00, 0x00, 0x64, 0x00, 0xc8,
        // Region 0: version 0, filled, 4x2, 2 bits, CLUT 0, background 0,
        // object 1 at (0, 0).
        0x0f, 0x11, 0x00, 0x01, 0x00, 0x10,
        0x00, 0x08, 0x00, 0x04, 0x00, 0x02, 0x04, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        // Object 1: pixels; a top field of 4 bytes, no bottom field. The
        // top field: a 2-bit string `01 10 11 01`, its end `000000` and
        // padding, the end of the line.
        0x0f, 0x13, 0x00, 0x01, 0x00, 0x0b,
        0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x00,
        0x10, 0x6d, 0x00, 0xf0,
        // The display set's end, the PES data's end.
        0x0f, 0x80, 0x00, 0x01, 0x00, 0x00,
        0xff,
    ];
    let page = Decoder::default().decode(&packet).expect("decodes");
    assert_eq!(
        page.as_ref().map(|p| p.time_out),
        Some(Duration::from_secs(5))
    );
    let image = picture(page);
    assert_eq!(
        (image.x, image.y, image.width, image.height, image.frame),
        (100, 200, 4, 2, Some((720, 576)))
    );
    let (white, black, grey) = (0xffff_ffff, 0xff00_0000, 0xff7f_7f7f);
    assert_eq!(image.argb, [white, black, grey, white].repeat(2));
}

/// A mode change showing region 0 (`size`, `depth`, the default CLUT,
/// filled with 0) at (0, 0) with `object` (object 1) at its (0, 0).
fn one_region(size: (u16, u16), depth: Depth, object: Segment) -> Vec<u8> {
    packet(
        PAGE_ID,
        &[
            page(10, 0, PageState::ModeChange, &[(0, 0, 0)]),
            region(&Region {
                id: 0,
                version: 0,
                size,
                depth,
                clut: 0,
                fill: Some(0),
                objects: &[(1, 0, 0)],
            }),
            object,
            end(),
        ],
    )
}

/// Bits written out (`0`, `1`; spaces between fields) as bytes, the last
/// padded with zeros.
fn bytes(bits: &str) -> Vec<u8> {
    let bits: Vec<u8> = bits
        .bytes()
        .filter(|b| *b != b' ')
        .map(|b| b - b'0')
        .collect();
    bits.chunks(8)
        .map(|byte| (0..8).fold(0, |v, n| v << 1 | byte.get(n).copied().unwrap_or(0)))
        .collect()
}

/// Every form of each depth's code strings, written by hand from EN 300
/// 743's tables (not with [`write`]), and the row it codes: runs of
/// (length, code).
#[test]
fn each_code_string_form_written_by_hand_decodes() {
    // The region's depth, the string's data type, its bits, its runs.
    type Case = (Depth, u8, &'static str, &'static [(usize, u8)]);
    let cases: [Case; 3] = [
        (
            Depth::Two,
            0x10,
            // 1; 5 of 3; 1 of 0; 2 of 0; 15 of 2; 30 of 1; the end.
            "01 00 1 010 11 00 0 1 00 0 0 01 00 0 0 10 0011 10 00 0 0 11 00000001 01 00 0 0 00",
            &[(1, 1), (5, 3), (3, 0), (15, 2), (30, 1)],
        ),
        (
            Depth::Four,
            0x11,
            // 3; 7 of 0; 5 of 7; 1 of 0; 2 of 0; 11 of 9; 28 of 15; the end.
            "0011 0000 0 101 0000 1 0 01 0111 0000 1 1 00 0000 1 1 01 \
             0000 1 1 10 0010 1001 0000 1 1 11 00000011 1111 0000 0 000",
            &[(1, 3), (7, 0), (5, 7), (3, 0), (11, 9), (28, 15)],
        ),
        (
            Depth::Eight,
            0x12,
            // 0x11; 5 of 0; 4 of 0x80; the end.
            "00010001 00000000 0 0000101 00000000 1 0000100 10000000 00000000 0 0000000",
            &[(1, 0x11), (5, 0), (4, 0x80)],
        ),
    ];
    for (depth, data_type, string, runs) in cases {
        // A pixel wider than the runs, to see the last run end.
        let row: Vec<u8> = runs
            .iter()
            .flat_map(|&(n, code)| std::iter::repeat_n(code, n))
            .chain([0])
            .collect();
        let mut top = vec![data_type];
        top.extend(bytes(string));
        top.push(0xf0);
        let mut object = vec![0x00, 0x01, 0x00, 0x00, top.len() as u8, 0x00, 0x00];
        object.extend(top);
        let set = one_region((row.len() as u16, 2), depth, (segment::OBJECT, object));
        let image = picture(Decoder::default().decode(&set).expect("decodes"));
        let default = Clut::default();
        let table = default.table(depth);
        let want: Vec<u32> = row.iter().map(|&c| table[usize::from(c)]).collect();
        assert_eq!(image.argb, want.repeat(2), "{depth:?}");
    }
}

/// Runs the codings treat differently: single pixels, each form's
/// shortest and longest run, and runs too long for one code.
const RUNS: [usize; 23] = [
    1, 1, 2, 1, 3, 4, 7, 8, 9, 10, 11, 12, 24, 25, 27, 28, 29, 127, 128, 280, 284, 300, 2,
];

/// Rows of `width` in runs of [`RUNS`] (then of 5), each of the next code
/// of `codes`, each row starting one code later.
fn rows(width: usize, height: usize, codes: &[u8]) -> Vec<Vec<u8>> {
    (0..height)
        .map(|y| {
            let runs = RUNS.iter().copied().chain(std::iter::repeat(5));
            runs.enumerate()
                .flat_map(|(n, run)| std::iter::repeat_n(codes[(n + y) % codes.len()], run))
                .take(width)
                .collect()
        })
        .collect()
}

/// One display set: an acquisition point showing region 3 (of `depth`,
/// CLUT 2 from `entries`) at (30, 40) with `rows` as object 9 in strings
/// of `strings` bits.
fn display_set(
    rows: &[Vec<u8>],
    depth: Depth,
    strings: Depth,
    entries: &[(u8, u8, [u8; 4], bool)],
) -> Vec<u8> {
    let size = (rows[0].len() as u16, rows.len() as u16);
    packet(
        PAGE_ID,
        &[
            page(10, 0, PageState::Acquisition, &[(3, 30, 40)]),
            region(&Region {
                id: 3,
                version: 0,
                size,
                depth,
                clut: 2,
                fill: Some(0),
                objects: &[(9, 0, 0)],
            }),
            clut(2, entries),
            object(9, rows, (depth, strings), false),
            end(),
        ],
    )
}

/// An entry for each code in `codes`, in every table, some translucent,
/// some at reduced range.
fn entries(codes: &[u8]) -> Vec<(u8, u8, [u8; 4], bool)> {
    codes
        .iter()
        .enumerate()
        .map(|(n, &code)| {
            let n = n as u8;
            let ycrcbt = [40 + n * 20, 100 + n * 10, 200 - n * 15, n * 30];
            (
                code,
                IN_2_BIT | IN_4_BIT | IN_8_BIT,
                ycrcbt,
                n.is_multiple_of(2),
            )
        })
        .collect()
}

/// What an entry of [`entries`] becomes: at reduced range, each value's
/// top bits.
fn entry_colour(&(_, _, ycrcbt, full): &(u8, u8, [u8; 4], bool)) -> u32 {
    let [y, cr, cb, t] = ycrcbt;
    entry_argb(if full {
        ycrcbt
    } else {
        [y & 0xfc, cr & 0xf0, cb & 0xf0, t & 0xc0]
    })
}

#[test]
fn each_depth_and_string_depth_round_trips_through_the_writer() {
    // Region codes each string depth can reach through the default maps.
    let cases: [(Depth, Depth, &[u8]); 6] = [
        (Depth::Two, Depth::Two, &[0, 1, 2, 3]),
        (Depth::Four, Depth::Two, &[0x0, 0x7, 0x8, 0xf]),
        (Depth::Four, Depth::Four, &[0, 1, 5, 9, 14, 15]),
        (Depth::Eight, Depth::Two, &[0x00, 0x77, 0x88, 0xff]),
        (Depth::Eight, Depth::Four, &[0x00, 0x11, 0x99, 0xff]),
        (Depth::Eight, Depth::Eight, &[0, 1, 7, 0x80, 0xc3, 0xff]),
    ];
    for (depth, strings, codes) in cases {
        for (width, height) in [(1, 1), (5, 3), (1500, 4)] {
            let rows = rows(width, height, codes);
            let entries = entries(codes);
            let page = Decoder::default()
                .decode(&display_set(&rows, depth, strings, &entries))
                .unwrap_or_else(|e| panic!("{depth:?}/{strings:?} {width}x{height}: {e}"));
            let image = picture(page);
            assert_eq!(
                (image.x, image.y, image.width, image.height),
                (30, 40, width as u32, height as u32),
                "{depth:?}/{strings:?}"
            );
            let colour = |code: u8| {
                let n = codes.iter().position(|&c| c == code).expect("a code");
                entry_colour(&entries[n])
            };
            let want: Vec<u32> = rows.iter().flatten().map(|&c| colour(c)).collect();
            assert_eq!(
                image.argb, want,
                "{depth:?} region, {strings:?} strings, {width}x{height}"
            );
        }
    }
}

#[test]
fn undefined_entries_take_the_default_cluts() {
    let codes = [0u8, 1, 6, 8, 0x80, 0x88, 0xff, 0x33, 0x0b];
    let decode = |depth: Depth, codes: &[u8]| {
        let rows = vec![codes.to_vec()];
        picture(
            Decoder::default()
                .decode(&display_set(&rows, depth, depth, &[]))
                .expect("decodes"),
        )
        .argb
    };
    // §10.1: clear, white, black, grey.
    assert_eq!(
        decode(Depth::Two, &[0, 1, 2, 3]),
        [0, 0xffff_ffff, 0xff00_0000, 0xff7f_7f7f]
    );
    // §10.2: red, yellow (red and green), black, half white: opaque.
    assert_eq!(
        decode(Depth::Four, &[0, 1, 3, 8, 15]),
        [0, 0xffff_0000, 0xffff_ff00, 0xff00_0000, 0xff7f_7f7f]
    );
    // §10.3: 1-7 at 75% transparency; the blocks by bits 7 and 3.
    assert_eq!(
        decode(Depth::Eight, &codes),
        [
            0,
            0x3f3f_0000,                     // red, 25% opaque
            0x3f00_3f3f,                     // 6: green and blue
            0x7f00_0000,                     // 0x08: black, half transparent
            0xff7f_7f7f,                     // 0x80: grey
            0xff00_0000,                     // 0x88: black
            0xff80_8080,                     // 0xff: 43 + 85 each
            0xffff_ff00,                     // 0x33: 85 + 170 red and green
            premultiplied([85, 85, 0], 127), // 0x0b: 85 red and green, half
        ]
    );
}

#[test]
fn a_bottom_field_is_coded_or_repeats_the_top() {
    let codes = [0u8, 1, 2, 3];
    let rows: Vec<Vec<u8>> = (0..6u8).map(|y| vec![y % 4; 9]).collect();
    let colours = |image: &Image| -> Vec<u32> { image.argb.chunks(9).map(|row| row[0]).collect() };
    let default = Clut::default();
    let table = default.table(Depth::Two);
    let decode = |repeat_top: bool| {
        let set = one_region(
            (9, 6),
            Depth::Two,
            object(1, &rows, (Depth::Two, Depth::Two), repeat_top),
        );
        picture(Decoder::default().decode(&set).expect("decodes"))
    };
    let want = |ys: [usize; 6]| ys.map(|y| table[usize::from(codes[y % 4])]).to_vec();
    assert_eq!(colours(&decode(false)), want([0, 1, 2, 3, 4, 5]));
    // Rows 0, 2, 4 coded; each repeated a line down.
    assert_eq!(colours(&decode(true)), want([0, 0, 2, 2, 4, 4]));
}

#[test]
fn a_map_table_in_the_data_changes_how_shallow_codes_map() {
    #[rustfmt::skip]
    let top = [
        // 2-to-4-bit map: 0 -> 1, 1 -> 2, 2 -> 3, 3 -> 4.
        0x20, 0x12, 0x34,
        // A 2-bit string: codes 3, 2, 1 (`11 10 01`), one pixel of 0
        // (`00 0 1`), the end (`00 0 0 00`).
        0x10, 0b1110_0100, 0b0100_0000,
        0xf0,
    ];
    let mut object = vec![0x00, 0x01, 0x00, 0x00, top.len() as u8, 0x00, 0x00];
    object.extend(top);
    let set = one_region((4, 1), Depth::Four, (segment::OBJECT, object));
    let image = picture(Decoder::default().decode(&set).expect("decodes"));
    let default = Clut::default();
    let table = default.table(Depth::Four);
    assert_eq!(image.argb, [4, 3, 2, 1].map(|c| table[c]));
}

/// The first display set of [`a_page_persists_...`]: regions 1 and 2.
fn two_regions(state: PageState, version: u8) -> Vec<Segment> {
    let mut segments = vec![page(4, version, state, &[(1, 10, 20), (2, 110, 60)])];
    for id in [1, 2] {
        segments.push(region(&Region {
            id,
            version: 0,
            size: (8, 4),
            depth: Depth::Four,
            clut: 0,
            fill: Some(id),
            objects: &[],
        }));
    }
    segments.push(end());
    segments
}

#[test]
fn a_page_persists_is_updated_cleared_and_reset() {
    let mut decoder = Decoder::default();
    let first = decoder
        .decode(&packet(PAGE_ID, &two_regions(PageState::Acquisition, 0)))
        .expect("decodes")
        .expect("a page");
    assert_eq!(first.time_out, Duration::from_secs(4));
    let image = picture(Some(first));
    // The bounding box of both, clear between them.
    assert_eq!(
        (image.x, image.y, image.width, image.height),
        (10, 20, 108, 44)
    );
    let table = Clut::default().table(Depth::Four).to_vec();
    let at = |image: &Image, x: u32, y: u32| image.argb[(y * image.width + x) as usize];
    assert_eq!(at(&image, 0, 0), table[1]);
    assert_eq!(at(&image, 100, 40), table[2]);
    assert_eq!(at(&image, 50, 10), 0);
    // An update: only region 2 shown, in a new colour for its code.
    let update = packet(
        PAGE_ID,
        &[
            page(4, 1, PageState::Normal, &[(2, 110, 60)]),
            clut(0, &[(2, IN_4_BIT, [81, 90, 240, 0], true)]),
            end(),
        ],
    );
    let image = picture(decoder.decode(&update).expect("decodes"));
    assert_eq!(
        (image.x, image.y, image.width, image.height),
        (110, 60, 8, 4)
    );
    assert!(
        image
            .argb
            .iter()
            .all(|&p| p == entry_argb([81, 90, 240, 0]))
    );
    // A clear: the page shows no region.
    let clear = packet(PAGE_ID, &[page(4, 2, PageState::Normal, &[]), end()]);
    let cleared = decoder.decode(&clear).expect("decodes").expect("a page");
    assert_eq!(cleared.shown, Shown::Cleared);
    // A mode change forgets regions and CLUTs: region 2 is back in the
    // default colour, region 1 (not sent again) is gone.
    let reset = packet(
        PAGE_ID,
        &[
            page(4, 3, PageState::ModeChange, &[(1, 10, 20), (2, 110, 60)]),
            region(&Region {
                id: 2,
                version: 0,
                size: (8, 4),
                depth: Depth::Four,
                clut: 0,
                fill: Some(2),
                objects: &[],
            }),
            end(),
        ],
    );
    let image = picture(decoder.decode(&reset).expect("decodes"));
    assert_eq!(
        (image.x, image.y, image.width, image.height),
        (110, 60, 8, 4)
    );
    assert!(image.argb.iter().all(|&p| p == table[2]));
    // Without an end of display set, nothing is shown yet.
    let unfinished = packet(PAGE_ID, &two_regions(PageState::Acquisition, 4)[..3]);
    assert_eq!(decoder.decode(&unfinished), Ok(None));
}

#[test]
fn a_display_definition_sets_the_frame_and_the_window_offsets_regions() {
    let mut segments = vec![display((1920, 1080), Some((100, 50)))];
    segments.extend(two_regions(PageState::Acquisition, 0));
    let image = picture(
        Decoder::default()
            .decode(&packet(PAGE_ID, &segments))
            .expect("decodes"),
    );
    assert_eq!(
        (image.x, image.y, image.frame),
        (110, 70, Some((1920, 1080)))
    );
}

#[test]
fn other_pages_and_unknown_segments_are_skipped() {
    let mut segments = two_regions(PageState::Acquisition, 0);
    segments.insert(1, (0x15, vec![1, 2, 3]));
    let mut decoder = Decoder::default();
    let first = packet(PAGE_ID, &segments);
    assert!(decoder.decode(&first).expect("decodes").is_some());
    // Another page's composition is not followed.
    let other = packet(7, &[page(4, 0, PageState::ModeChange, &[]), end()]);
    assert_eq!(decoder.decode(&other), Ok(None));
}

#[test]
fn bad_input_says_what_is_wrong() {
    let good = packet(PAGE_ID, &two_regions(PageState::Acquisition, 0));
    let mut decoder = Decoder::default();
    assert_eq!(
        decoder.decode(&[0x21, 0x00, 0xff]),
        Err(SubpictureError::NotDvb { start: [0x21, 0] })
    );
    let mut bad_sync = good.clone();
    bad_sync[2] = 0x0e;
    assert_eq!(
        decoder.decode(&bad_sync),
        Err(SubpictureError::SyncByte { at: 2, found: 0x0e })
    );
    let big = packet(
        PAGE_ID,
        &[region(&Region {
            id: 5,
            version: 0,
            size: (4097, 2),
            depth: Depth::Two,
            clut: 0,
            fill: None,
            objects: &[],
        })],
    );
    assert_eq!(
        decoder.decode(&big),
        Err(SubpictureError::RegionTooLarge {
            id: 5,
            width: 4097,
            height: 2
        })
    );
    // Large regions, each allowed, but not all together.
    let mut decoder = Decoder::default();
    let mut result = Ok(None);
    for id in 0..3 {
        let segment = region(&Region {
            id,
            version: 0,
            size: (4096, 4096),
            depth: Depth::Eight,
            clut: 0,
            fill: None,
            objects: &[],
        });
        result = decoder.decode(&packet(PAGE_ID, &[segment]));
    }
    assert_eq!(
        result,
        Err(SubpictureError::RegionsTooLarge {
            pixels: 2 * 4096 * 4096
        })
    );
    let rows = vec![vec![1u8; 4]];
    let mut deep = display_set(&rows, Depth::Two, Depth::Two, &[]);
    // The object's field: a 2-bit string of 4 pixels of 1 (`00 1 001 01`),
    // its end and padding, the line's end; made a 4-bit one.
    let at = deep
        .windows(4)
        .position(|w| w == [0x10, 0x25, 0x00, 0xf0])
        .expect("the 2-bit string");
    deep[at] = 0x11;
    assert_eq!(
        Decoder::default().decode(&deep),
        Err(SubpictureError::TooDeep { bits: 4, depth: 2 })
    );
    let characters = packet(PAGE_ID, &[(segment::OBJECT, vec![0, 3, 0x04, 0, 0])]);
    assert_eq!(
        Decoder::default().decode(&characters),
        Err(SubpictureError::ObjectCoding { id: 3, method: 1 })
    );
}

#[test]
fn truncated_and_damaged_packets_never_panic() {
    let rows = rows(50, 7, &[0, 1, 0x80, 0xff]);
    let good = display_set(&rows, Depth::Eight, Depth::Eight, &entries(&[1, 0x80]));
    // Cut before the end of display set (the end marker after it is not
    // needed), nothing is shown.
    for len in 0..good.len() - 1 {
        let result = Decoder::default().decode(&good[..len]);
        assert!(!matches!(result, Ok(Some(_))), "cut at {len}: {result:?}");
    }
    for bit in 0..good.len() * 8 {
        let mut damaged = good.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        let _ = Decoder::default().decode(&damaged);
    }
    let four = display_set(&rows, Depth::Four, Depth::Two, &[]);
    for bit in 0..four.len() * 8 {
        let mut damaged = four.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        let _ = Decoder::default().decode(&damaged);
    }
}
