use super::*;

#[test]
fn lists_parse_in_canonical_order_without_repeats() {
    let paths: Vec<PathKind> = parse_list("gpu,zero-copy,fakesink,zc").unwrap();
    assert_eq!(
        paths,
        vec![PathKind::Fakesink, PathKind::ZeroCopy, PathKind::Gpu]
    );
    let sizes: Vec<Size> = parse_list("4k,720p").unwrap();
    assert_eq!(sizes, vec![Size::P720, Size::K4]);
}

#[test]
fn a_paced_raw_source_is_live_and_a_decoded_clip_is_released_on_the_clock() {
    let socket = Path::new("/tmp/s");
    let raw = CaseSpec::new(
        Source::Raw,
        Size::P720,
        PathKind::ZeroCopy,
        40,
        4,
        None,
        None,
    )
    .paced(Some((3, 2)));
    assert!(
        raw.pipeline.contains("is-live=true") && raw.pipeline.contains("framerate=3/2"),
        "{}",
        raw.pipeline
    );
    let mut again = raw.clone();
    again.retarget(socket, 7);
    assert_eq!(again.pace, Some((3, 2)));
    assert!(again.pipeline.contains("framerate=3/2") && again.pipeline.contains("/tmp/s"));
    let clip = Path::new("/c/h264.mp4");
    let h264 = CaseSpec::new(
        Source::H264,
        Size::P720,
        PathKind::Copy,
        40,
        4,
        Some(clip),
        None,
    )
    .paced(Some((3, 2)));
    assert_eq!(h264.pace, Some((3, 2)));
    assert!(
        h264.pipeline
            .contains("avdec_h264 ! identity name=pace sync=true ! identity drop-allocation"),
        "{}",
        h264.pipeline
    );
}

#[test]
fn unknown_names_say_what_would_work() {
    let err = parse_list::<Source>("raw,av1").unwrap_err().to_string();
    assert!(
        err.contains("av1") && err.contains("raw, h264 or vp9"),
        "{err}"
    );
    assert!(parse_list::<Size>(",").is_err());
}

#[test]
fn names_round_trip_through_json() {
    for size in Size::ALL {
        let json = serde_json::to_string(&size).unwrap();
        assert_eq!(json, format!("\"{}\"", size.name()));
        assert_eq!(size.name().parse::<Size>().unwrap(), size);
    }
    for path in PathKind::ALL {
        let json = serde_json::to_string(&path).unwrap();
        assert_eq!(json, format!("\"{}\"", path.name()));
        assert_eq!(path.name().parse::<PathKind>().unwrap(), path);
    }
    for source in Source::ALL {
        assert_eq!(source.name().parse::<Source>().unwrap(), source);
    }
}

#[test]
fn the_copy_path_refuses_the_pool_and_the_floor_has_no_display() {
    let socket = Path::new("/tmp/x/socket");
    let copy = CaseSpec::new(
        Source::Raw,
        Size::P720,
        PathKind::Copy,
        30,
        5,
        None,
        Some((socket, 1)),
    );
    assert!(
        copy.pipeline
            .contains("identity drop-allocation=true ! zcexport"),
        "{}",
        copy.pipeline
    );
    assert!(copy.pipeline.contains("display=/tmp/x/socket"));
    let floor = CaseSpec::new(
        Source::H264,
        Size::P1080,
        PathKind::Fakesink,
        30,
        5,
        Some(Path::new("/c/h264.mp4")),
        None,
    );
    assert!(
        floor
            .pipeline
            .starts_with("filesrc location=/c/h264.mp4 ! qtdemux")
    );
    assert!(!floor.pipeline.contains("display="));
}
