use super::*;

#[test]
fn limited_range_converts_with_the_matrix() {
    assert_eq!(
        ycrcb_to_rgb(Matrix::Bt601, [235, 128, 128]),
        [255, 255, 255]
    );
    assert_eq!(ycrcb_to_rgb(Matrix::Bt709, [16, 128, 128]), [0, 0, 0]);
    // 75% red in each matrix's own coding (rounded to 8 bits: within 1).
    for (matrix, coded) in [
        (Matrix::Bt601, [65, 212, 100]),
        (Matrix::Bt709, [51, 212, 109]),
    ] {
        let rgb = ycrcb_to_rgb(matrix, coded);
        let want = [191, 0, 0];
        assert!(
            (0..3).all(|c| rgb[c].abs_diff(want[c]) <= 1),
            "{matrix}: {coded:?} came out as {rgb:?}"
        );
    }
}

#[test]
fn premultiplied_scales_the_colour_by_its_alpha() {
    assert_eq!(premultiplied([255, 128, 0], 255), 0xffff_8000);
    assert_eq!(premultiplied([255, 128, 0], 0), 0);
    assert_eq!(premultiplied([255, 128, 0], 136), 0x8888_4400);
}

#[test]
fn images_scale_to_their_canvas() {
    let image = Image {
        x: 0,
        y: 0,
        width: 2,
        height: 2,
        frame: None,
        argb: vec![1, 2, 3, 4],
    };
    let (width, height, stride) = (4u32, 4u32, 20u32);
    let mut canvas = vec![0xeeu8; (stride * height) as usize];
    image.draw_scaled(&mut canvas, (width, height, stride));
    let pixel = |x: usize, y: usize| {
        let at = y * stride as usize + x * 4;
        u32::from_le_bytes(canvas[at..at + 4].try_into().unwrap())
    };
    let got: Vec<u32> = (0..4)
        .flat_map(|y| (0..4).map(move |x| (x, y)))
        .map(|(x, y)| pixel(x, y))
        .collect();
    assert_eq!(got, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    // The stride's padding is left alone.
    assert_eq!(canvas[16..20], [0xee; 4]);
}
