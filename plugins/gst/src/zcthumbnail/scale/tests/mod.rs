//! The scaler's unit tests: the conversion, the box filter and its spans,
//! every layout's channel order, bad planes and fitting.

use super::*;

fn limited601() -> Colorimetry {
    Colorimetry {
        matrix: Matrix::Bt601,
        range: Range::Limited,
    }
}

/// An NV12 frame: Y from `y(x, y)`, U/V from `uv(cx, cy)`, with padding
/// in the strides to catch stride bugs.
fn nv12(
    w: u32,
    h: u32,
    y: impl Fn(u32, u32) -> u8,
    uv: impl Fn(u32, u32) -> (u8, u8),
) -> (Vec<u8>, Vec<u8>, usize, usize) {
    let ys = w as usize + 7;
    let cw = w.div_ceil(2);
    let uvs = cw as usize * 2 + 5;
    let mut yp = vec![0xEE; ys * h as usize];
    let mut uvp = vec![0xEE; uvs * h.div_ceil(2) as usize];
    for row in 0..h {
        for col in 0..w {
            yp[row as usize * ys + col as usize] = y(col, row);
        }
    }
    for row in 0..h.div_ceil(2) {
        for col in 0..cw {
            let (u, v) = uv(col, row);
            uvp[row as usize * uvs + col as usize * 2] = u;
            uvp[row as usize * uvs + col as usize * 2 + 1] = v;
        }
    }
    (yp, uvp, ys, uvs)
}

#[test]
fn limited_range_extremes_are_black_and_white() {
    let c = Converter::new(limited601());
    assert_eq!(c.rgb(16, 128, 128), [0, 0, 0]);
    assert_eq!(c.rgb(235, 128, 128), [255, 255, 255]);
    let full = Converter::new(Colorimetry {
        matrix: Matrix::Bt709,
        range: Range::Full,
    });
    assert_eq!(full.rgb(0, 128, 128), [0, 0, 0]);
    assert_eq!(full.rgb(255, 128, 128), [255, 255, 255]);
    assert_eq!(full.rgb(77, 128, 128), [77, 77, 77]);
}

#[test]
fn primaries_come_out_as_primaries() {
    // BT.601 limited-range red, green, blue (the values videotestsrc makes).
    let c = Converter::new(limited601());
    let close = |a: [u8; 3], b: [u8; 3]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (i32::from(*x) - i32::from(y)).abs() <= 2)
    };
    assert!(
        close(c.rgb(81, 90, 240), [255, 0, 0]),
        "{:?}",
        c.rgb(81, 90, 240)
    );
    assert!(
        close(c.rgb(145, 54, 34), [0, 255, 0]),
        "{:?}",
        c.rgb(145, 54, 34)
    );
    assert!(
        close(c.rgb(41, 240, 110), [0, 0, 255]),
        "{:?}",
        c.rgb(41, 240, 110)
    );
}

#[test]
fn spans_cover_every_sample_once_when_shrinking() {
    for (src, dst) in [(1920, 320), (7, 3), (5, 5), (1, 1), (1081, 180)] {
        let s = spans(src, dst);
        assert_eq!(s.len(), dst as usize);
        assert_eq!(s[0].0, 0);
        assert_eq!(s.last().map(|r| r.1), Some(src as usize));
        assert!(
            s.windows(2).all(|w| w[0].1 == w[1].0),
            "{src}->{dst}: {s:?}"
        );
    }
    // Enlarging repeats samples (nearest neighbour).
    assert_eq!(spans(2, 4), vec![(0, 1), (0, 1), (1, 2), (1, 2)]);
}

#[test]
fn box_filter_averages_with_rounding_half_up() {
    // 4x2 BGRx: the left 2x2 block averages 10,11,12,13 -> 11.5 -> 12.
    let values = [10u8, 11, 30, 30, 12, 13, 30, 30];
    let mut plane = Vec::new();
    for v in values {
        plane.extend_from_slice(&[v, v, v, 0]);
    }
    let planes = [plane.as_slice()];
    let frame = Frame {
        format: PixelFormat::Bgrx,
        width: 4,
        height: 2,
        planes: &planes,
        strides: &[16],
        colour: Colorimetry::default_for_height(0),
    };
    let out = scale_to_rgb(&frame, 2, 1).expect("scale");
    assert_eq!(out.pixel(0, 0), [12, 12, 12]);
    assert_eq!(out.pixel(1, 0), [30, 30, 30]);
}

#[test]
fn rgb_formats_keep_channel_order() {
    let planes_bgrx = [&[1u8, 2, 3, 0][..]];
    let planes_rgba = [&[1u8, 2, 3, 255][..]];
    let one = |format, planes: &[&[u8]]| {
        let frame = Frame {
            format,
            width: 1,
            height: 1,
            planes,
            strides: &[4],
            colour: Colorimetry::default_for_height(0),
        };
        scale_to_rgb(&frame, 1, 1).expect("scale").pixel(0, 0)
    };
    assert_eq!(one(PixelFormat::Bgrx, &planes_bgrx), [3, 2, 1]);
    assert_eq!(one(PixelFormat::Rgba, &planes_rgba), [1, 2, 3]);
    // RGB565 pure red, green, blue and white.
    for (word, rgb) in [
        (0xF800u16, [255, 0, 0]),
        (0x07E0, [0, 255, 0]),
        (0x001F, [0, 0, 255]),
        (0xFFFF, [255, 255, 255]),
    ] {
        let bytes = word.to_le_bytes();
        let planes = [&bytes[..]];
        let frame = Frame {
            format: PixelFormat::Rgb565,
            width: 1,
            height: 1,
            planes: &planes,
            strides: &[2],
            colour: Colorimetry::default_for_height(0),
        };
        assert_eq!(
            scale_to_rgb(&frame, 1, 1).expect("scale").pixel(0, 0),
            rgb,
            "{word:#06x}"
        );
    }
}

#[test]
fn nv12_halves_land_in_their_halves() {
    // Left half white, right half black, 1920x1080 -> 320x180.
    let (w, h) = (1920, 1080);
    let (yp, uvp, ys, uvs) = nv12(
        w,
        h,
        |x, _| if x < w / 2 { 235 } else { 16 },
        |_, _| (128, 128),
    );
    let planes = [yp.as_slice(), uvp.as_slice()];
    let frame = Frame {
        format: PixelFormat::Nv12,
        width: w,
        height: h,
        planes: &planes,
        strides: &[ys, uvs],
        colour: limited601(),
    };
    let out = scale_to_rgb(&frame, 320, 180).expect("scale");
    assert_eq!(out.pixel(0, 0), [255, 255, 255]);
    assert_eq!(out.pixel(159, 179), [255, 255, 255]);
    assert_eq!(out.pixel(160, 0), [0, 0, 0]);
    assert_eq!(out.pixel(319, 179), [0, 0, 0]);
}

#[test]
fn planar_and_packed_yuv_agree() {
    // One colour, every YUV layout: the same RGB.
    let (w, h, y, u, v) = (6u32, 4u32, 81u8, 90u8, 240u8);
    let expect = Converter::new(limited601()).rgb(y, u, v);
    let (cw, chh) = (w as usize / 2, h as usize / 2);
    let yp = vec![y; w as usize * h as usize];
    let up = vec![u; cw * chh];
    let vp = vec![v; cw * chh];
    let uv: Vec<u8> = (0..cw * chh).flat_map(|_| [u, v]).collect();
    let vu: Vec<u8> = (0..cw * chh).flat_map(|_| [v, u]).collect();
    let uv16: Vec<u8> = (0..cw * chh * 2).flat_map(|_| [u, v]).collect();
    let yuy2: Vec<u8> = (0..cw * h as usize).flat_map(|_| [y, u, y, v]).collect();
    let uyvy: Vec<u8> = (0..cw * h as usize).flat_map(|_| [u, y, v, y]).collect();
    let p010y: Vec<u8> = (0..w as usize * h as usize)
        .flat_map(|_| (u16::from(y) << 8).to_le_bytes())
        .collect();
    let p010uv: Vec<u8> = (0..cw * chh)
        .flat_map(|_| {
            [
                (u16::from(u) << 8).to_le_bytes(),
                (u16::from(v) << 8).to_le_bytes(),
            ]
        })
        .flatten()
        .collect();
    // Planar 4:2:2 and 4:4:4, 8 and 10 bits (the 10-bit codes are the
    // 8-bit ones times 4, with garbage in the unused high bits).
    let up422 = vec![u; cw * h as usize];
    let vp422 = vec![v; cw * h as usize];
    let up444 = vec![u; w as usize * h as usize];
    let vp444 = vec![v; w as usize * h as usize];
    let ten = |value: u8, n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|_| ((u16::from(value) << 2) | 0xfc00).to_le_bytes())
            .collect()
    };
    let n = w as usize * h as usize;
    let (y10, u420, v420) = (ten(y, n), ten(u, cw * chh), ten(v, cw * chh));
    let (u422, v422) = (ten(u, cw * h as usize), ten(v, cw * h as usize));
    let (u444, v444) = (ten(u, n), ten(v, n));
    type Case<'a> = (PixelFormat, Vec<&'a [u8]>, Vec<usize>);
    let cases: Vec<Case<'_>> = vec![
        (
            PixelFormat::Nv12,
            vec![&yp, &uv],
            vec![w as usize, w as usize],
        ),
        (
            PixelFormat::Nv21,
            vec![&yp, &vu],
            vec![w as usize, w as usize],
        ),
        (
            PixelFormat::Nv16,
            vec![&yp, &uv16],
            vec![w as usize, w as usize],
        ),
        (
            PixelFormat::I420,
            vec![&yp, &up, &vp],
            vec![w as usize, cw, cw],
        ),
        (
            PixelFormat::Yv12,
            vec![&yp, &vp, &up],
            vec![w as usize, cw, cw],
        ),
        (
            PixelFormat::Y42b,
            vec![&yp, &up422, &vp422],
            vec![w as usize, cw, cw],
        ),
        (
            PixelFormat::Y444,
            vec![&yp, &up444, &vp444],
            vec![w as usize; 3],
        ),
        (
            PixelFormat::S010,
            vec![&y10, &u420, &v420],
            vec![w as usize * 2, cw * 2, cw * 2],
        ),
        (
            PixelFormat::S210,
            vec![&y10, &u422, &v422],
            vec![w as usize * 2, cw * 2, cw * 2],
        ),
        (
            PixelFormat::S410,
            vec![&y10, &u444, &v444],
            vec![w as usize * 2; 3],
        ),
        (PixelFormat::Yuy2, vec![&yuy2], vec![w as usize * 2]),
        (PixelFormat::Uyvy, vec![&uyvy], vec![w as usize * 2]),
        (
            PixelFormat::P010,
            vec![&p010y, &p010uv],
            vec![w as usize * 2, w as usize * 2],
        ),
    ];
    for (format, planes, strides) in cases {
        let frame = Frame {
            format,
            width: w,
            height: h,
            planes: &planes,
            strides: &strides,
            colour: limited601(),
        };
        let out = scale_to_rgb(&frame, 3, 2).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(
            out.data.chunks(3).all(|p| p == expect),
            "{format:?}: {:?} != {expect:?}",
            out.data
        );
    }
}

#[test]
fn planar_chroma_lands_in_its_quadrant() {
    // U changes between the left and right halves, V between the top and
    // bottom: each format's chroma grid (its subsampling) must put each
    // quadrant's colour in the matching thumbnail pixel.
    let (w, h, y) = (8usize, 8usize, 120u8);
    let u_of = |x: usize| if x < w / 2 { 60 } else { 200 };
    let v_of = |y: usize| if y < h / 2 { 70 } else { 190 };
    let convert = Converter::new(limited601());
    for (format, sub_x, sub_y, ten_bit) in [
        (PixelFormat::I420, 2, 2, false),
        (PixelFormat::Y42b, 2, 1, false),
        (PixelFormat::Y444, 1, 1, false),
        (PixelFormat::S010, 2, 2, true),
        (PixelFormat::S210, 2, 1, true),
        (PixelFormat::S410, 1, 1, true),
    ] {
        let (cw, chh) = (w / sub_x, h / sub_y);
        let bytes = |value: u8| -> Vec<u8> {
            if ten_bit {
                (u16::from(value) << 2).to_le_bytes().to_vec()
            } else {
                vec![value]
            }
        };
        let plane = |cols: usize, rows: usize, value: &dyn Fn(usize, usize) -> u8| -> Vec<u8> {
            (0..rows)
                .flat_map(|r| (0..cols).map(move |c| (c, r)))
                .flat_map(|(c, r)| bytes(value(c, r)))
                .collect()
        };
        let yp = plane(w, h, &|_, _| y);
        let up = plane(cw, chh, &|c, _| u_of(c * sub_x));
        let vp = plane(cw, chh, &|_, r| v_of(r * sub_y));
        let size = if ten_bit { 2 } else { 1 };
        let planes = [yp.as_slice(), up.as_slice(), vp.as_slice()];
        let frame = Frame {
            format,
            width: w as u32,
            height: h as u32,
            planes: &planes,
            strides: &[w * size, cw * size, cw * size],
            colour: limited601(),
        };
        let out = scale_to_rgb(&frame, 2, 2).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        for (qx, qy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let expect = convert.rgb(y, u_of(qx * w / 2), v_of(qy * h / 2));
            assert_eq!(
                out.pixel(qx as u32, qy as u32),
                expect,
                "{format:?} ({qx}, {qy})"
            );
        }
    }
}

#[test]
fn odd_and_tiny_frames_work() {
    for (w, h, dw, dh) in [
        (1, 1, 1, 1),
        (1, 1, 4, 3),
        (3, 5, 2, 3),
        (641, 479, 321, 239),
        (7, 1, 3, 1),
    ] {
        let (yp, uvp, ys, uvs) = nv12(w, h, |_, _| 235, |_, _| (128, 128));
        let planes = [yp.as_slice(), uvp.as_slice()];
        let frame = Frame {
            format: PixelFormat::Nv12,
            width: w,
            height: h,
            planes: &planes,
            strides: &[ys, uvs],
            colour: limited601(),
        };
        let out = scale_to_rgb(&frame, dw, dh).unwrap_or_else(|e| panic!("{w}x{h}: {e}"));
        assert_eq!(
            (out.width, out.height, out.data.len()),
            (dw, dh, (dw * dh * 3) as usize)
        );
        assert!(out.data.iter().all(|&b| b == 255), "{w}x{h} -> {dw}x{dh}");
    }
}

#[test]
fn short_planes_are_refused_not_read_past() {
    let y = vec![0u8; 100];
    let uv = vec![0u8; 10];
    let planes = [y.as_slice(), uv.as_slice()];
    let frame = Frame {
        format: PixelFormat::Nv12,
        width: 10,
        height: 10,
        planes: &planes,
        strides: &[10, 10],
        colour: limited601(),
    };
    assert!(matches!(
        scale_to_rgb(&frame, 5, 5),
        Err(ScaleError::PlaneTooSmall { plane: 1, .. })
    ));
    let frame = Frame {
        planes: &planes[..1],
        ..frame
    };
    assert_eq!(
        scale_to_rgb(&frame, 5, 5),
        Err(ScaleError::MissingPlane { plane: 1 })
    );
    let frame = Frame { width: 0, ..frame };
    assert_eq!(scale_to_rgb(&frame, 5, 5), Err(ScaleError::EmptyFrame));
}

#[test]
fn fit_keeps_the_aspect_ratio() {
    assert_eq!(fit(1920, 1080, (1, 1), 320, 180), (320, 180));
    assert_eq!(fit(1920, 1080, (1, 1), 320, 320), (320, 180));
    assert_eq!(fit(1080, 1920, (1, 1), 320, 180), (101, 180));
    assert_eq!(fit(1920, 1080, (1, 1), 0, 0), (1920, 1080));
    assert_eq!(fit(1920, 1080, (1, 1), 0, 90), (160, 90));
    assert_eq!(fit(1920, 1080, (1, 1), 640, 0), (640, 360));
    assert_eq!(fit(1, 1, (1, 1), 320, 180), (180, 180));
    assert_eq!(fit(4000, 1, (1, 1), 320, 180), (320, 1));
    // Anamorphic 720x576 at 16:15 pixels shows as 768x576.
    assert_eq!(fit(720, 576, (16, 15), 384, 288), (384, 288));
    assert_eq!(fit(720, 576, (16, 15), 0, 288), (384, 288));
}

/// 2:10:10:10 RGB pixels (XR30, AR30, XB30, AB30), each format's words
/// written by hand from DRM's definition, read through `from_fourcc`.
mod rgb30 {
    use super::*;
    use zc_dmabuf::Fourcc;

    /// A `w` x 1 frame of `format` whose pixels have the 10-bit R, G, B codes
    /// of `pixels` and alpha (or padding) `alpha`, scaled to `dw` x 1.
    fn scale(fourcc: Fourcc, pixels: &[[u32; 3]], alpha: u32, dw: u32) -> Rgb {
        // XR30/AR30: B bits 0-9, G 10-19, R 20-29; XB30/AB30: R and B
        // swapped; alpha or padding in bits 30-31.
        let bgr = matches!(fourcc, Fourcc::XRGB2101010 | Fourcc::ARGB2101010);
        let mut plane = Vec::new();
        for &[r, g, b] in pixels {
            let (low, high) = if bgr { (b, r) } else { (r, b) };
            let word = low | (g << 10) | (high << 20) | (alpha << 30);
            plane.extend_from_slice(&word.to_le_bytes());
        }
        let planes = [plane.as_slice()];
        let format = PixelFormat::from_fourcc(fourcc).expect("a format the scaler reads");
        let frame = Frame {
            format,
            width: pixels.len() as u32,
            height: 1,
            planes: &planes,
            strides: &[plane.len()],
            colour: Colorimetry::default_for_height(0),
        };
        scale_to_rgb(&frame, dw, 1).expect("scale")
    }

    const FORMATS: [Fourcc; 4] = [
        Fourcc::XRGB2101010,
        Fourcc::ARGB2101010,
        Fourcc::XBGR2101010,
        Fourcc::ABGR2101010,
    ];

    #[test]
    fn every_format_keeps_channel_order_whatever_the_alpha() {
        // R 1020 -> 254.25 -> 254, G 514 -> 128.1 -> 128, B 3 -> 0.75 -> 1:
        // rounded, not the top 8 bits (those would give 255, 128, 0).
        for fourcc in FORMATS {
            for alpha in [0, 1, 3] {
                let out = scale(fourcc, &[[1020, 514, 3]], alpha, 1);
                assert_eq!(out.pixel(0, 0), [254, 128, 1], "{fourcc} alpha {alpha}");
            }
            // Each channel on its own lands in its own place.
            assert_eq!(
                scale(fourcc, &[[1023, 0, 0]], 3, 1).pixel(0, 0),
                [255, 0, 0]
            );
            assert_eq!(
                scale(fourcc, &[[0, 1023, 0]], 3, 1).pixel(0, 0),
                [0, 255, 0]
            );
            assert_eq!(
                scale(fourcc, &[[0, 0, 1023]], 3, 1).pixel(0, 0),
                [0, 0, 255]
            );
            assert!(PixelFormat::from_fourcc(fourcc).is_some_and(PixelFormat::is_rgb));
            assert_eq!(
                PixelFormat::from_fourcc(fourcc).map(PixelFormat::plane_count),
                Some(1)
            );
        }
    }

    #[test]
    fn ten_bit_codes_round_to_the_nearest_eight_bit_value() {
        // (v * 255 + 511) / 1023 for a few codes around the edges.
        for (code, expected) in [
            (0, 0),
            (1, 0),
            (2, 0),
            (3, 1),
            (511, 127),
            (512, 128),
            (1021, 255),
            (1022, 255),
            (1023, 255),
        ] {
            let out = scale(Fourcc::XRGB2101010, &[[code; 3]], 0, 1);
            assert_eq!(out.pixel(0, 0), [expected; 3], "code {code}");
        }
        // Every 8-bit value the core packs to 10 bits comes back unchanged.
        let packing = *zc_dmabuf::FormatInfo::lookup(Fourcc::ABGR2101010)
            .and_then(zc_dmabuf::FormatInfo::rgb_packing)
            .expect("AB30 packing");
        for value in 0..=255u8 {
            let word = packing.pack([f32::from(value) / 255.0; 3]);
            let planes = [&word.to_le_bytes()[..]];
            let frame = Frame {
                format: PixelFormat::Rgb30(packing),
                width: 1,
                height: 1,
                planes: &planes,
                strides: &[4],
                colour: Colorimetry::default_for_height(0),
            };
            let out = scale_to_rgb(&frame, 1, 1).expect("scale");
            assert_eq!(out.pixel(0, 0), [value; 3]);
        }
    }

    #[test]
    fn channels_are_averaged_at_ten_bits_then_rounded() {
        // Codes 0 and 4 average to 2 -> 0; rounding each first (0 and 1)
        // would average to 1. 1023 and 1021 average to 1022 -> 255.
        for fourcc in FORMATS {
            let out = scale(fourcc, &[[0, 1023, 0], [4, 1021, 4]], 0, 1);
            assert_eq!(out.pixel(0, 0), [0, 255, 0], "{fourcc}");
            // Enlarging repeats each pixel.
            let out = scale(fourcc, &[[1023, 0, 0], [0, 0, 1023]], 0, 4);
            let row: Vec<_> = (0..4).map(|x| out.pixel(x, 0)).collect();
            assert_eq!(
                row,
                [[255, 0, 0], [255, 0, 0], [0, 0, 255], [0, 0, 255]],
                "{fourcc}"
            );
        }
    }

    #[test]
    fn a_short_plane_is_refused() {
        let packing = match PixelFormat::from_fourcc(Fourcc::XRGB2101010) {
            Some(PixelFormat::Rgb30(packing)) => packing,
            other => panic!("XR30 reads as {other:?}"),
        };
        let plane = [0u8; 7];
        let planes = [&plane[..]];
        let frame = Frame {
            format: PixelFormat::Rgb30(packing),
            width: 2,
            height: 1,
            planes: &planes,
            strides: &[8],
            colour: Colorimetry::default_for_height(0),
        };
        assert_eq!(
            scale_to_rgb(&frame, 1, 1),
            Err(ScaleError::PlaneTooSmall {
                plane: 0,
                needed: 8,
                have: 7
            })
        );
    }
}
