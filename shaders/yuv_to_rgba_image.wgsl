// YUV->RGBA reading the planes from imported images: each plane of the
// dma-buf is its own single-plane VkImage (R8 / R8G8 / R16 / R16G16, YUYV
// as R8G8B8A8 at half width) created with VK_EXT_image_drm_format_modifier
// and the plane's explicit offset and pitch. Texels are fetched with
// textureLoad (no sampler, no filtering), so results match the buffer path.

@group(0) @binding(0) var plane0: texture_2d<f32>;
@group(0) @binding(1) var plane1: texture_2d<f32>;
@group(0) @binding(2) var plane2: texture_2d<f32>;

fn code8(v: f32) -> f32 {
    return round(v * 255.0);
}

// UNORM16 back to the 16-bit sample, then its 10 high bits.
fn code10(v: f32) -> f32 {
    return floor(round(v * 65535.0) / 64.0);
}

// A planar sample: 8-bit, or 16-bit holding the code in its low bits.
fn code_planar(v: f32) -> f32 {
    if wide_samples() {
        return round(v * 65535.0);
    }
    return code8(v);
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if x >= params.dims.x || y >= params.dims.y {
        return;
    }
    let p = vec2<i32>(i32(x), i32(y));
    let c = vec2<i32>(chroma_xy(x, y));
    var luma: f32;
    var cb: f32;
    var cr: f32;
    switch params.dims.z {
        case FORMAT_NV12: {
            luma = code8(textureLoad(plane0, p, 0).r);
            let uv = textureLoad(plane1, c, 0);
            cb = code8(uv.r);
            cr = code8(uv.g);
        }
        case FORMAT_PLANAR: {
            luma = code_planar(textureLoad(plane0, p, 0).r);
            cb = code_planar(textureLoad(plane1, c, 0).r);
            cr = code_planar(textureLoad(plane2, c, 0).r);
        }
        case FORMAT_YUYV: {
            let t = textureLoad(plane0, vec2<i32>(i32(x / 2u), i32(y)), 0);
            luma = code8(select(t.r, t.b, (x & 1u) == 1u));
            cb = code8(t.g);
            cr = code8(t.a);
        }
        default: {
            luma = code10(textureLoad(plane0, p, 0).r);
            let uv = textureLoad(plane1, c, 0);
            cb = code10(uv.r);
            cr = code10(uv.g);
        }
    }
    store_pixel(x, y, to_rgba(luma, cb, cr));
}
