// YUV->RGBA reading the planes from storage buffers by byte offset and
// stride: the path for devices without VK_EXT_image_drm_format_modifier
// (the dma-buf is imported into a VkBuffer). Bindings 0-2 are the buffers
// holding planes 0-2 (the same buffer three times for single-fd frames).

@group(0) @binding(0) var<storage, read> plane0: array<u32>;
@group(0) @binding(1) var<storage, read> plane1: array<u32>;
@group(0) @binding(2) var<storage, read> plane2: array<u32>;

fn byte_of(word: u32, byte: u32) -> f32 {
    return f32((word >> ((byte & 3u) * 8u)) & 0xffu);
}

fn u8_at(plane: u32, byte: u32) -> f32 {
    switch plane {
        case 0u: { return byte_of(plane0[byte / 4u], byte); }
        case 1u: { return byte_of(plane1[byte / 4u], byte); }
        default: { return byte_of(plane2[byte / 4u], byte); }
    }
}

// A 16-bit little-endian sample at an even byte.
fn u16_at(plane: u32, byte: u32) -> u32 {
    var word: u32;
    switch plane {
        case 0u: { word = plane0[byte / 4u]; }
        case 1u: { word = plane1[byte / 4u]; }
        default: { word = plane2[byte / 4u]; }
    }
    return (word >> ((byte & 2u) * 8u)) & 0xffffu;
}

// A P010 sample: 10 bits in the high bits.
fn p010_at(plane: u32, byte: u32) -> f32 {
    return f32(u16_at(plane, byte) >> 6u);
}

// A planar sample at column x of row y: 8-bit, or 16-bit holding the code
// in its low bits.
fn planar_at(plane: u32, x: u32, y: u32) -> f32 {
    if wide_samples() {
        return f32(u16_at(plane, plane_byte(plane, x * 2u, y)));
    }
    return u8_at(plane, plane_byte(plane, x, y));
}

fn plane_byte(plane: u32, x_bytes: u32, row: u32) -> u32 {
    return params.offsets[plane] + row * params.strides[plane] + x_bytes;
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if x >= params.dims.x || y >= params.dims.y {
        return;
    }
    let cx = x / 2u;
    let cy = y / 2u;
    var luma: f32;
    var cb: f32;
    var cr: f32;
    switch params.dims.z {
        case FORMAT_NV12: {
            luma = u8_at(0u, plane_byte(0u, x, y));
            cb = u8_at(1u, plane_byte(1u, cx * 2u, cy));
            cr = u8_at(1u, plane_byte(1u, cx * 2u + 1u, cy));
        }
        case FORMAT_PLANAR: {
            let c = chroma_xy(x, y);
            luma = planar_at(0u, x, y);
            cb = planar_at(1u, c.x, c.y);
            cr = planar_at(2u, c.x, c.y);
        }
        case FORMAT_YUYV: {
            let base = plane_byte(0u, cx * 4u, y);
            luma = u8_at(0u, base + (x & 1u) * 2u);
            cb = u8_at(0u, base + 1u);
            cr = u8_at(0u, base + 3u);
        }
        default: {
            luma = p010_at(0u, plane_byte(0u, x * 2u, y));
            cb = p010_at(1u, plane_byte(1u, cx * 4u, cy));
            cr = p010_at(1u, plane_byte(1u, cx * 4u + 2u, cy));
        }
    }
    store_pixel(x, y, to_rgba(luma, cb, cr));
}
