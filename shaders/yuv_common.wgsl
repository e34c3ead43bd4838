// Shared by both YUV->RGBA entry shaders (build.rs prepends this file).
//
// Parameters come as push constants ("immediates" in naga's WGSL). The
// layout must match `push_constants` in plugins/vulkan/src/convert/pipeline.rs: six
// 16-byte rows, 96 bytes, under the 128 bytes every device guarantees.
struct Params {
    // width, height, format (FORMAT_* below), output stride in bytes
    dims: vec4<u32>,
    // byte offsets of planes 0, 1, 2 in their buffers (buffer path only);
    // w: byte offset of the output's first row
    offsets: vec4<u32>,
    // byte strides of planes 0, 1, 2 (buffer path only);
    // w: the chroma shape (SHAPE_* bits below)
    strides: vec4<u32>,
    // y offset, y scale, chroma offset, chroma scale, in code values of the
    // format's bit depth: y' = (Y - y_offset) * y_scale lies in 0..1,
    // cb' = (Cb - c_offset) * c_scale in -0.5..0.5
    range: vec4<f32>,
    // the matrix: R = y' + rv cr', G = y' - gu cb' - gv cr', B = y' + bu cb'
    coeffs: vec4<f32>,
    // the output pixel (zc_dmabuf::RgbPacking of the output format):
    // x: the largest colour code (255 or 1023); y: the lowest bits of R, G,
    // B and alpha, a byte each (R in the low byte); z: the alpha bits of an
    // opaque pixel; w: unused
    packing: vec4<u32>,
}

// The sample layouts (`Layout` in plugins/vulkan/src/convert/shader_format.rs).
// NV12: Y plane, interleaved CbCr plane, 8-bit.
const FORMAT_NV12: u32 = 0u;
// Y, Cb, Cr planes (I420, Y42B, Y444; 16-bit with SHAPE_16_LSB).
const FORMAT_PLANAR: u32 = 1u;
// Packed Y0 Cb Y1 Cr.
const FORMAT_YUYV: u32 = 2u;
// P010: as NV12 with 16-bit samples, 10 bits in the high bits.
const FORMAT_P010: u32 = 3u;

// Chroma shape bits in params.strides.w.
const SHAPE_HALF_WIDTH: u32 = 1u;
const SHAPE_HALF_HEIGHT: u32 = 2u;
// 16-bit little-endian samples with 10 bits in the low bits (S010, S210, S410).
const SHAPE_16_LSB: u32 = 4u;

// The chroma sample position of frame pixel (x, y).
fn chroma_xy(x: u32, y: u32) -> vec2<u32> {
    let shape = params.strides.w;
    return vec2<u32>(
        select(x, x / 2u, (shape & SHAPE_HALF_WIDTH) != 0u),
        select(y, y / 2u, (shape & SHAPE_HALF_HEIGHT) != 0u),
    );
}

fn wide_samples() -> bool {
    return (params.strides.w & SHAPE_16_LSB) != 0u;
}

var<immediate> params: Params;

// The output: one 32-bit little-endian word per pixel, packed as
// params.packing says (RGBA8, XR30, ...).
@group(0) @binding(3) var<storage, read_write> out_pixels: array<u32>;

fn to_rgba(y: f32, cb: f32, cr: f32) -> vec4<f32> {
    let yn = (y - params.range.x) * params.range.y;
    let cbn = (cb - params.range.z) * params.range.w;
    let crn = (cr - params.range.z) * params.range.w;
    let c = params.coeffs;
    let r = yn + c.x * crn;
    let g = yn - c.y * cbn - c.z * crn;
    let b = yn + c.w * cbn;
    return vec4<f32>(clamp(vec3<f32>(r, g, b), vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}

// Each colour rounded to the nearest code of the output's depth and put in
// its bits; alpha opaque. For RGBA8 this is pack4x8unorm.
fn store_pixel(x: u32, y: u32, rgba: vec4<f32>) {
    let byte = params.offsets.w + y * params.dims.w + x * 4u;
    let p = params.packing;
    let codes = vec3<u32>(round(clamp(rgba.rgb, vec3<f32>(0.0), vec3<f32>(1.0)) * f32(p.x)));
    out_pixels[byte / 4u] = (codes.r << (p.y & 0xffu))
        | (codes.g << ((p.y >> 8u) & 0xffu))
        | (codes.b << ((p.y >> 16u) & 0xffu))
        | (p.z << (p.y >> 24u));
}
