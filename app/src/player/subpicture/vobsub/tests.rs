use super::*;

/// Entries 1 (white), 2 (black) and 3 (BT.601 red) in Y, Cr, Cb.
fn palette() -> Palette {
    let mut entries = [0x0010_8080u32; 16];
    entries[1] = 0x00eb_8080;
    entries[2] = 0x0010_8080;
    entries[3] = 0x0051_f05a;
    Palette::from_ycrcb(entries)
}

/// A deterministic pseudo-random row of runs of every code length.
fn rows(width: usize, height: usize, seed: u32) -> Vec<Vec<u8>> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    (0..height)
        .map(|_| {
            let mut row = Vec::with_capacity(width);
            while row.len() < width {
                let run = [1, 3, 4, 15, 16, 63, 64, 255, 256, 300][(next() % 10) as usize];
                let value = (next() % 4) as u8;
                row.extend(std::iter::repeat_n(value, run.min(width - row.len())));
            }
            row
        })
        .collect()
}

#[test]
fn the_palette_converts_bt601_limited_range() {
    let palette = palette();
    assert_eq!(palette.rgb(1), [255, 255, 255]);
    assert_eq!(palette.rgb(2), [0, 0, 0]);
    let [r, g, b] = palette.rgb(3);
    assert!(r >= 250 && g <= 5 && b <= 5, "red came out as {r},{g},{b}");
    assert_eq!(Palette::default().rgb(15), [255, 255, 255]);
    assert_eq!(Palette::default().rgb(0), [0, 0, 0]);
}

#[test]
fn a_hand_assembled_packet_decodes() {
    // 2x2 at (3, 1): row 0 is value 1 then value 2, row 1 is value 3 to the
    // row's end. Value 1 is palette entry 1 (white) opaque, 2 entry 2
    // (black) opaque, 3 entry 3 (red) at alpha 0 (transparent).
    let packet = [
        0x00, 0x1f, // size: 31
        0x00, 0x07, // the control sequence at 7
        0x56, // row 0 (field 0): a run of 1 of value 1, a run of 1 of value 2
        0x00, 0x03, // row 1 (field 1): value 3 to the row's end
        0x00, 0x00, 0x00, 0x07, // delay 0; next: itself, the last
        0x03, 0x32, 0x10, // colours: value 3 -> 3, 2 -> 2, 1 -> 1, 0 -> 0
        0x04, 0x0f, 0xf0, // alpha: 3 -> 0, 2 -> 15, 1 -> 15, 0 -> 0
        0x05, 0x00, 0x30, 0x04, 0x00, 0x10, 0x02, // x 3..=4, y 1..=2
        0x06, 0x00, 0x04, 0x00, 0x05, // fields at 4 and 5
        0x01, 0xff, // show; end
    ];
    let picture = decode(&packet, &palette()).expect("decodes");
    assert_eq!(picture.show, Some(Duration::ZERO));
    assert_eq!(picture.hide, None);
    let image = picture.image.expect("an image");
    assert_eq!((image.x, image.y, image.width, image.height), (3, 1, 2, 2));
    assert_eq!(image.argb, [0xffff_ffff, 0xff00_0000, 0, 0]);
}

#[test]
fn encoded_pictures_decode_to_the_same_pixels() {
    let colours = [0, 1, 2, 3];
    let alpha = [0, 15, 15, 8];
    let palette = palette();
    for (n, (width, height)) in [(1, 1), (2, 3), (17, 4), (300, 5), (720, 64)]
        .into_iter()
        .enumerate()
    {
        let rows = rows(width, height, n as u32 + 1);
        let packet = encode((100, 380), &rows, colours, alpha, (0, 90));
        let picture = decode(&packet, &palette).expect("decodes");
        assert_eq!(picture.show, Some(Duration::ZERO));
        // 90 units of 1024 ticks at 90 kHz: 1.024 s.
        assert_eq!(picture.hide, Some(Duration::from_millis(1024)));
        let image = picture.image.expect("an image");
        assert_eq!((image.x, image.y), (100, 380));
        assert_eq!(
            (image.width, image.height),
            (width.max(1) as u32, height.max(1) as u32)
        );
        for (y, row) in rows.iter().enumerate() {
            for (x, &value) in row.iter().enumerate() {
                let want = match value {
                    0 => 0,
                    1 => 0xffff_ffff,
                    2 => 0xff00_0000,
                    // Red at alpha 8 (136 of 255), premultiplied.
                    _ => 0x8800_0000 | (u32::from(palette.rgb(3)[0]) * 136 / 255) << 16,
                };
                let got = image.argb[y * width + x];
                assert!(
                    got >> 8 == want >> 8 || (value == 3 && got.abs_diff(want) < 0x0001_0000),
                    "{width}x{height}: pixel ({x}, {y}) of value {value} is {got:#010x}, want {want:#010x}"
                );
            }
        }
    }
}

#[test]
fn every_cut_or_damaged_packet_is_an_error_or_a_picture_never_a_panic() {
    let packet = encode(
        (8, 8),
        &rows(40, 6, 7),
        [0, 1, 2, 3],
        [0, 15, 15, 15],
        (0, 45),
    );
    for len in 0..packet.len() {
        assert!(decode(&packet[..len], &palette()).is_err(), "cut at {len}");
        // The size fixed to the cut: still no panic.
        let mut cut = packet[..len].to_vec();
        if len >= 2 {
            cut[..2].copy_from_slice(&(len as u16).to_be_bytes());
        }
        let _ = decode(&cut, &palette());
    }
    for at in 0..packet.len() {
        for flip in [0x01, 0x10, 0x80, 0xff] {
            let mut damaged = packet.clone();
            damaged[at] ^= flip;
            let _ = decode(&damaged, &palette());
        }
    }
}

#[test]
fn errors_say_what_is_wrong() {
    let mut packet = encode((0, 0), &rows(4, 2, 3), [0, 1, 2, 3], [15; 4], (0, 10));
    let first = usize::from(packet[2]) << 8 | usize::from(packet[3]);
    // The second sequence points back to the first.
    let second = usize::from(packet[first + 2]) << 8 | usize::from(packet[first + 3]);
    packet[second + 2..second + 4].copy_from_slice(&(first as u16).to_be_bytes());
    assert_eq!(
        decode(&packet, &palette()),
        Err(SubpictureError::SequenceLoop {
            at: second,
            next: first
        })
    );
    let mut packet = encode((0, 0), &rows(4, 2, 3), [0, 1, 2, 3], [15; 4], (0, 10));
    packet[first + 4] = 0x42;
    let error = decode(&packet, &palette()).expect_err("unknown command");
    assert_eq!(
        error.to_string(),
        format!(
            "control sequence at byte {} has the unknown command 0x42",
            first + 4
        )
    );
    let error = decode(&[0x01, 0x00, 0x00], &palette()).expect_err("short");
    assert_eq!(
        error.to_string(),
        "the packet ends at byte 3, but it needs byte 256 (the size its header gives)"
    );
}

#[test]
fn a_packet_that_only_hides_has_no_image() {
    // One sequence: hide at once, no area, no fields.
    let packet = [0x00, 0x09, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x02, 0xff];
    let mut packet = packet.to_vec();
    packet[1] = packet.len() as u8;
    let picture = decode(&packet, &palette()).expect("decodes");
    assert_eq!(
        picture,
        Subpicture {
            show: None,
            hide: Some(Duration::ZERO),
            image: None
        }
    );
}
