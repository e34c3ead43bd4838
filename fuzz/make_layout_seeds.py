#!/usr/bin/env python3
"""Writes the committed seeds in corpus/layout/ (the input format is at the
top of fuzz_targets/layout.rs). Run from fuzz/: python3 make_layout_seeds.py"""
import struct


def seed(name, fourcc, modifier, w, h, align, planes, sizes, format_name=b""):
    b = struct.pack("<IQIII", fourcc, modifier, w, h, align)
    b += struct.pack("<BB", len(planes), len(sizes))
    for buffer, offset, stride in planes:
        b += struct.pack("<BQI", buffer, offset, stride)
    for size in sizes:
        b += struct.pack("<Q", size)
    b += format_name
    with open("corpus/layout/seed-" + name, "wb") as f:
        f.write(b)


def cc(s):
    return struct.unpack("<I", s.encode())[0]


# NV12 1920x1080, zc's computed layout (align 256 = 1 << 8)
seed("nv12-1080p", cc("NV12"), 0, 1920, 1080, 8, [(0, 0, 2048), (0, 2211840, 2048)], [3317760], b"nv12")
# XRGB8888 64x64, implicit modifier, tight
seed("xrgb-64", cc("XR24"), 0x00FFFFFFFFFFFFFF, 64, 64, 6, [(0, 0, 256)], [16384], b"XRGB8888")
# I420 odd size, planes in two buffers
seed("i420-odd-2buf", cc("YU12"), 0, 3, 3, 0, [(0, 0, 3), (1, 0, 2), (1, 4, 2)], [9, 8], b"I420")
# YUYV 1x1 in one page
seed("yuyv-1x1", cc("YUYV"), 0, 1, 1, 12, [(0, 0, 4)], [4096], b"yuy2")
# P010 at the largest size, planes in separate buffers
seed("p010-max", cc("P010"), 0, 16384, 16384, 8, [(0, 0, 32768), (1, 0, 32768)], [536870912, 268435456], b"p010")
# format index 0 (the first known format) with a plane that overflows u64
seed("overflow", 0, 0, 16, 16, 0, [(0, 0xFFFFFFFFFFFFFF00, 16), (0, 0, 16)], [0xFFFFFFFFFFFFFFFF], b"")
