//! Fuzz zc-dmabuf's layout validation: `FrameLayout::new` (a layout received
//! from a producer: any numbers at all) and `FrameLayout::compute` (zc's own
//! allocation layout, as `FrameRequest` asks for it), plus `Fourcc::from_str`.
//!
//! Beyond "no panic", every accepted layout is checked against an independent
//! model in `u128` arithmetic (no overflow possible): each plane's end fits its
//! buffer, strides hold a row, planes of one buffer do not overlap; and every
//! layout the model accepts must be accepted too (no spurious refusals).
//!
//! Input (little-endian; bytes past the end read as zero), see `Input::decode`:
//!   u32 fourcc      (below 0x100: index into `FormatInfo::all()`)
//!   u64 modifier, u32 width, u32 height,
//!   u32 align       (below 32: 1 << align, else the raw value)
//!   u8 planes, u8 buffers   (each taken modulo 6)
//!   per plane: u8 buffer, u64 offset, u32 stride
//!   per buffer: u64 size
//!   the rest: a format name for `Fourcc::from_str`
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use zc_dmabuf::layout::{MAX_DIMENSION, MAX_PLANES, PAGE_SIZE};
use zc_dmabuf::{
    FormatInfo, Fourcc, FrameLayout, FrameRequest, LayoutError, Modifier, PlaneLayout, StrideAlign,
};

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

#[derive(Debug)]
struct Input<'a> {
    fourcc: Fourcc,
    modifier: Modifier,
    width: u32,
    height: u32,
    align: u32,
    planes: Vec<PlaneLayout>,
    buffer_sizes: Vec<u64>,
    name: &'a [u8],
}

impl<'a> Input<'a> {
    fn decode(data: &'a [u8]) -> Self {
        let mut r = Reader(data);
        let raw = r.u32();
        let all = FormatInfo::all();
        let fourcc = if raw < 0x100 {
            all[raw as usize % all.len()].fourcc
        } else {
            Fourcc(raw)
        };
        let modifier = Modifier(r.u64());
        let width = r.u32();
        let height = r.u32();
        let align = match r.u32() {
            small @ 0..32 => 1 << small,
            raw => raw,
        };
        let plane_count = r.u8() % (MAX_PLANES as u8 + 2);
        let buffer_count = r.u8() % (MAX_PLANES as u8 + 2);
        let planes = (0..plane_count)
            .map(|_| PlaneLayout {
                buffer: usize::from(r.u8()),
                offset: r.u64(),
                stride: r.u32(),
            })
            .collect();
        let buffer_sizes = (0..buffer_count).map(|_| r.u64()).collect();
        Input {
            fourcc,
            modifier,
            width,
            height,
            align,
            planes,
            buffer_sizes,
            name: r.0,
        }
    }
}

/// The independent model of a valid received layout. Returns each plane's
/// byte range when valid.
fn model_new(input: &Input) -> Option<Vec<(usize, u128, u128)>> {
    let format = FormatInfo::lookup(input.fourcc)?;
    let (w, h) = (input.width, input.height);
    if w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION {
        return None;
    }
    if input.planes.len() != format.plane_count() || input.buffer_sizes.len() > MAX_PLANES {
        return None;
    }
    let mut ranges = Vec::new();
    for (i, p) in input.planes.iter().enumerate() {
        let size = *input.buffer_sizes.get(p.buffer)?;
        let row = format.row_bytes(i, w) as u128;
        let rows = format.plane_rows(i, h) as u128;
        if (p.stride as u128) < row {
            return None;
        }
        let end = p.offset as u128 + p.stride as u128 * (rows - 1) + row;
        if end > u64::MAX as u128 || end > size as u128 {
            return None;
        }
        ranges.push((p.buffer, p.offset as u128, end));
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            if a.0 == b.0 && a.1 < b.2 && b.1 < a.2 {
                return None;
            }
        }
    }
    Some(ranges)
}

fn check_new(input: &Input) {
    let result = FrameLayout::new(
        input.fourcc,
        input.modifier,
        input.width,
        input.height,
        &input.planes,
        &input.buffer_sizes,
    );
    let model = model_new(input);
    match (&result, &model) {
        (Ok(layout), Some(ranges)) => {
            assert_eq!(layout.planes(), &input.planes[..]);
            assert_eq!(layout.buffer_sizes(), &input.buffer_sizes[..]);
            assert_eq!(layout.modifier(), input.modifier);
            for (i, &(buffer, _, end)) in ranges.iter().enumerate() {
                assert_eq!(layout.plane_end(i) as u128, end, "plane {i}");
                assert!(end <= layout.buffer_sizes()[buffer] as u128, "plane {i}");
            }
            let _ = format!("{layout:?}");
        }
        (Err(err), None) => {
            // Every refusal renders a message (the messages do arithmetic).
            let _ = err.to_string();
        }
        _ => panic!("FrameLayout::new says {result:?}, the model says {model:?} for {input:?}"),
    }
}

/// `compute`, reached the way an allocator does: from a `FrameRequest`.
fn check_compute(input: &Input) {
    let mut request = FrameRequest::new(input.fourcc, input.width, input.height);
    match StrideAlign::new(input.align) {
        Ok(align) => request.align = align,
        Err(err) => {
            assert!(!input.align.is_power_of_two());
            assert!(matches!(err, LayoutError::InvalidAlignment { .. }));
            let _ = err.to_string();
        }
    }
    let align = u128::from(request.align.get());
    let result = FrameLayout::compute(request.fourcc, request.width, request.height, request.align);
    let (w, h) = (request.width, request.height);
    let known = FormatInfo::lookup(request.fourcc);
    let sane =
        known.is_some() && (1..=MAX_DIMENSION).contains(&w) && (1..=MAX_DIMENSION).contains(&h);
    match result {
        Ok(layout) => {
            assert!(sane, "{request:?} gave {layout:?}");
            let format = known.unwrap();
            assert_eq!(layout.modifier(), Modifier::LINEAR);
            assert_eq!(layout.buffer_sizes().len(), 1);
            let size = u128::from(layout.buffer_size());
            assert_eq!(size % u128::from(PAGE_SIZE), 0);
            let mut previous_end = 0u128;
            for (i, p) in layout.planes().iter().enumerate() {
                assert_eq!(p.buffer, 0);
                let stride = u128::from(p.stride);
                let offset = u128::from(p.offset);
                assert!(stride >= format.row_bytes(i, w) as u128);
                assert_eq!(stride % align, 0);
                assert_eq!(offset % align, 0);
                assert!(offset >= previous_end, "plane {i} overlaps the one before");
                // Full strides for every row, the last included, fit the buffer.
                let end = offset + stride * u128::from(format.plane_rows(i, h));
                assert!(end <= size, "plane {i}: {end} > {size}");
                assert!(u128::from(layout.plane_end(i)) <= end);
                previous_end = end;
            }
        }
        Err(err) => {
            let _ = err.to_string();
            // With any ordinary alignment, a known format of a valid size
            // always fits (16384x16384 of 4-byte pixels is 1 GiB).
            assert!(!(sane && align <= 4096), "{request:?}: {err}");
        }
    }
}

fn check_name(name: &[u8]) {
    let Ok(name) = std::str::from_utf8(name) else {
        return;
    };
    match Fourcc::from_str(name) {
        Ok(fourcc) => {
            assert!(
                FormatInfo::lookup(fourcc).is_some(),
                "{name:?} -> {fourcc:?}"
            );
            let _ = (fourcc.to_string(), format!("{fourcc:?}"));
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::decode(data);
    check_new(&input);
    check_compute(&input);
    check_name(input.name);
});
