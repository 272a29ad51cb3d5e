#!/usr/bin/env python3
"""Writes the image-decoder fixtures: small JPEG, PNG, BMP and GIF files of
every kind Graft must read (and broken ones it must refuse), each with the
pixels TensorFlow itself decodes from it.

    python tools/make_decode_fixtures.py OUTDIR

For every file OUTDIR/manifest.txt has a line `<file> <height> <width>` when
`tf.io.decode_image(contents, channels=3, expand_animations=False)` decodes it
(its uint8 RGB pixels are then in `<file>.rgb`, height x width x 3 bytes), or
`<file> error` when TensorFlow refuses it. Nothing is assumed: whatever
TensorFlow does is recorded, and each decode is run twice to make sure the
result does not depend on uninitialised memory.

The files are written here, deterministically: PNG, BMP and GIF (with its LZW
coder) by the small writers below, JPEG by the system's libturbojpeg (through
ctypes), which can write what TensorFlow's encoder cannot (4:2:2, 4:4:0, 4:1:1,
CMYK, progressive grayscale). Needs numpy, tensorflow and libturbojpeg.so.0.
OUTDIR is replaced as a whole; its STAMP file is written last. About 3 s.
"""

import ctypes
import os
import random
import struct
import sys
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from fixture_dir import build_into  # noqa: E402


# ----------------------------------------------------------------------------
# Test pictures


def smooth(h, w, seed):
    """A photo-like RGB picture: gradients, a ripple and some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([x * 255 / max(w - 1, 1),
                    y * 255 / max(h - 1, 1),
                    128 + 90 * np.sin(x / 2.5) * np.cos(y / 3.5)], -1)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def noise(shape, high, seed):
    return np.random.default_rng(seed).integers(0, high, shape)


# ----------------------------------------------------------------------------
# JPEG through libturbojpeg (TurboJPEG 2 API)

_TJSAMP = {"444": 0, "422": 1, "420": 2, "gray": 3, "440": 4, "411": 5}
_TJPF = {1: 6, 3: 0, 4: 11}  # TJPF_GRAY, TJPF_RGB, TJPF_CMYK
_TJFLAG_PROGRESSIVE = 16384


def _turbojpeg():
    lib = ctypes.CDLL("libturbojpeg.so.0")
    lib.tjInitCompress.restype = ctypes.c_void_p
    lib.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_ulong),
                                ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.tjFree.argtypes = [ctypes.c_void_p]
    lib.tjDestroy.argtypes = [ctypes.c_void_p]
    lib.tjGetErrorStr2.argtypes = [ctypes.c_void_p]
    lib.tjGetErrorStr2.restype = ctypes.c_char_p
    return lib


_tj = None


def jpeg(img, subsampling="420", quality=90, progressive=False):
    """Encodes gray (h, w), RGB (h, w, 3) or CMYK (h, w, 4) pixels; CMYK is
    written as YCCK with an Adobe APP14 marker."""
    global _tj
    if _tj is None:
        _tj = _turbojpeg()
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    c = 1 if img.ndim == 2 else img.shape[2]
    handle = _tj.tjInitCompress()
    buf, size = ctypes.c_void_p(), ctypes.c_ulong(0)
    flags = _TJFLAG_PROGRESSIVE if progressive else 0
    if _tj.tjCompress2(handle, img.ctypes.data, w, w * c, h, _TJPF[c], ctypes.byref(buf), ctypes.byref(size),
                       _TJSAMP[subsampling], quality, flags) != 0:
        raise RuntimeError(_tj.tjGetErrorStr2(handle).decode())
    data = ctypes.string_at(buf, size.value)
    _tj.tjFree(buf)
    _tj.tjDestroy(handle)
    return data


def jpeg_segments(data):
    """(marker, offset, length) of the segments before the first scan."""
    out, i = [], 2
    while i + 4 <= len(data):
        marker = data[i + 1]
        length = data[i + 2] << 8 | data[i + 3]
        out.append((marker, i, length))
        if marker == 0xDA:
            break
        i += 2 + length
    return out


def without_segment(data, marker):
    _, offset, length = next(s for s in jpeg_segments(data) if s[0] == marker)
    return data[:offset] + data[offset + 2 + length:]


def with_sampling(data, factors):
    """The same file with other sampling factors in its frame header: the
    entropy data no longer fits (libjpeg warns), but the frame is valid."""
    _, offset, _ = next(s for s in jpeg_segments(data) if s[0] == 0xC0)
    out = bytearray(data)
    for k, f in enumerate(factors):
        out[offset + 4 + 6 + 3 * k + 1] = f
    return bytes(out)


# ----------------------------------------------------------------------------
# PNG


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def _png_rows(a, depth):
    rows = []
    for y in range(a.shape[0]):
        s = a[y].reshape(-1)
        if depth == 16:
            rows.append(s.astype(">u2").tobytes())
        elif depth == 8:
            rows.append(s.astype(np.uint8).tobytes())
        else:
            per = 8 // depth
            out = bytearray((len(s) * depth + 7) // 8)
            for i, v in enumerate(s):
                out[i // per] |= int(v) << (8 - depth * (i % per + 1))
            rows.append(bytes(out))
    return rows


def _png_filter(rows, bpp):
    """Each row with a filter type cycling through None, Sub, Up, Average, Paeth."""
    out, prev = b"", bytes(len(rows[0]))
    for k, r in enumerate(rows):
        kind, f = k % 5, bytearray(len(r))
        for i in range(len(r)):
            a = r[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 0:
                p = 0
            elif kind == 1:
                p = a
            elif kind == 2:
                p = b
            elif kind == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            f[i] = (r[i] - p) & 255
        out += bytes([kind]) + bytes(f)
        prev = r
    return out


def png_raw(a, color_type, depth, interlace=False):
    """The filtered (uncompressed) image data."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[:, :, None]
    assert a.shape[2] == _PNG_CHANNELS[color_type]
    bpp = max(1, a.shape[2] * depth // 8)
    if not interlace:
        return _png_filter(_png_rows(a, depth), bpp)
    raw = b""
    for x0, y0, dx, dy in _ADAM7:
        sub = a[y0::dy, x0::dx]
        if sub.shape[0] and sub.shape[1]:
            raw += _png_filter(_png_rows(sub, depth), bpp)
    return raw


def png_ihdr(w, h, depth, color_type, interlace=False):
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))


def png(a, color_type, depth, palette=None, trns=None, interlace=False, extra=b"", idat=None):
    a = np.asarray(a)
    h, w = a.shape[:2]
    out = b"\x89PNG\r\n\x1a\n" + png_ihdr(w, h, depth, color_type, interlace) + extra
    if palette is not None:
        out += png_chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    if idat is None:
        idat = zlib.compress(png_raw(a, color_type, depth, interlace), 9)
    return out + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


# ----------------------------------------------------------------------------
# BMP


def bmp(pixels, bpp, top_down=False, palette=None, compression=0, dib_size=40, tail=b"", gap=b"", masks=b""):
    """`pixels` in file order: (h, w, 3) BGR, (h, w, 4) BGRA or (h, w) indices."""
    a = np.asarray(pixels, np.uint8)
    h, w = a.shape[:2]
    row_size = (bpp * w + 31) // 32 * 4
    rows = []
    for y in (range(h) if top_down else range(h - 1, -1, -1)):
        if bpp >= 8:
            r = a[y].reshape(-1).tobytes()
        else:
            per = 8 // bpp
            r = bytearray((w * bpp + 7) // 8)
            for x in range(w):
                r[x // per] |= int(a[y, x]) << (8 - bpp * (x % per + 1))
            r = bytes(r)
        rows.append(r + b"\x00" * (row_size - len(r)))
    data = b"".join(rows)
    pal = b"" if palette is None else b"".join(bytes([int(c[2]), int(c[1]), int(c[0]), 0]) for c in palette)
    dib = struct.pack("<IiiHHIIiiII", dib_size, w, -h if top_down else h, 1, bpp, compression, len(data),
                      2835, 2835, 0 if palette is None else len(palette), 0)
    dib += b"\x00" * (dib_size - 40)
    offset = 14 + len(dib) + len(masks) + len(pal) + len(gap)
    header = b"BM" + struct.pack("<IHHI", offset + len(data) + len(tail), 0, 0, offset)
    return header + dib + masks + pal + gap + data + tail


# ----------------------------------------------------------------------------
# GIF, with an LZW coder


def lzw(indices, code_size, clear_when_full=True, stop_after=None, extra_codes=(), then=None):
    """GIF LZW codes for `indices`, packed LSB first. `stop_after` ends the
    stream (end-of-information code) after that many pixels; `extra_codes` are
    written before it, or, with `then`, followed by a clear code and the codes
    of the indices `then` (a stream that goes on after a broken code)."""
    end = (1 << code_size) + 1
    codes = _lzw_codes(indices, code_size, clear_when_full, stop_after)
    for c in extra_codes:
        codes.append((c, _next_width(codes, code_size)))
    if then is not None:
        codes += _lzw_codes(then, code_size, clear_when_full, None, first_width=_next_width(codes, code_size))
    codes.append((end, _next_width(codes, code_size)))
    out, acc, bits = bytearray(), 0, 0
    for c, n in codes:
        acc |= c << bits
        bits += n
        while bits >= 8:
            out.append(acc & 255)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc)
    return bytes(out)


def _next_width(codes, code_size):
    """The width a GIF decoder reads the next code with, after `codes`: one
    more bit each time the count of codes since the last clear passes a power
    of two (giflib's schedule; the encoder's own matches it for valid data)."""
    clear = 1 << code_size
    width = code_size + 1
    running, limit = clear + 2, 1 << width
    for c, _ in codes:
        if c == clear:
            width, running, limit = code_size + 1, clear + 2, 1 << (code_size + 1)
            continue
        if running < 4097:
            running += 1
            if running > limit and width < 12:
                limit <<= 1
                width += 1
    return width


def _lzw_codes(indices, code_size, clear_when_full, stop_after, first_width=None):
    """(code, width) pairs: a clear code, then `indices` coded."""
    clear, end = 1 << code_size, (1 << code_size) + 1
    width, table, next_code = code_size + 1, {(i,): i for i in range(clear)}, end + 1
    codes = [(clear, first_width or width)]
    seq = [int(v) for v in indices]
    if stop_after is not None:
        seq = seq[:stop_after]
    cur = ()
    for k in seq:
        if cur + (k,) in table:
            cur += (k,)
            continue
        codes.append((table[cur], width))
        if next_code < 4096:
            table[cur + (k,)] = next_code
            next_code += 1
            if next_code > (1 << width) and width < 12:
                width += 1
        elif clear_when_full:
            codes.append((clear, width))
            width, table, next_code = code_size + 1, {(i,): i for i in range(clear)}, end + 1
        cur = (k,)
    if cur:
        codes.append((table[cur], width))
    return codes


def sub_blocks(data, size=255):
    return b"".join(bytes([len(data[i:i + size])]) + data[i:i + size] for i in range(0, len(data), size)) + b"\x00"


def gif_table(colors):
    colors = np.asarray(colors, np.uint8)
    bits = max(1, (len(colors) - 1).bit_length())
    return bits, bytes(colors.reshape(-1)) + b"\x00" * (3 * ((1 << bits) - len(colors)))


def gif_gce(transparent=None, size=4):
    body = bytes([1 if transparent is not None else 0, 10, 0, transparent or 0, 0])[:size]
    return b"\x21\xf9" + bytes([size]) + body + b"\x00"


def gif_frame(indices, left=0, top=0, colors=None, interlace=False, code_size=None, data=None, **lzw_args):
    idx = np.asarray(indices)
    h, w = idx.shape
    flags, table = 0, b""
    if colors is not None:
        bits, table = gif_table(colors)
        flags |= 0x80 | (bits - 1)
    if interlace:
        flags |= 0x40
    if code_size is None:
        code_size = max(2, int(idx.max()).bit_length())
    rows = np.concatenate([idx[0::8], idx[4::8], idx[2::4], idx[1::2]]) if interlace else idx
    if data is None:
        data = lzw(rows.reshape(-1), code_size, **lzw_args)
    return (b"\x2c" + struct.pack("<HHHH", left, top, w, h) + bytes([flags]) + table + bytes([code_size])
            + sub_blocks(data))


def gif(width, height, blocks, colors=None, version=b"89a", trailer=True):
    flags, table = 0, b""
    if colors is not None:
        bits, table = gif_table(colors)
        flags = 0x80 | 0x70 | (bits - 1)
    return (b"GIF" + version + struct.pack("<HH", width, height) + bytes([flags, 0, 0]) + table
            + b"".join(blocks) + (b"\x3b" if trailer else b""))


def damage(data, kind, rng):
    b = bytearray(data)
    if kind == 0:
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] = rng.choice([0, 0xFF, 0x80, rng.randrange(256)])
    elif kind == 2:
        i = rng.randrange(len(b))
        del b[i:i + rng.randint(1, 16)]
    elif kind == 3:
        i = rng.randrange(len(b))
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 4:
        b[rng.randrange(min(len(b), 120))] = rng.randrange(256)
    else:
        i = rng.randrange(len(b) // 2, len(b))
        b[i] ^= 0xFF
    return bytes(b)


# ----------------------------------------------------------------------------
# The fixtures


def fixtures():
    f = {}
    W, H = 37, 23     # odd sizes: partial MCUs, row padding, interlace passes
    w, h = 13, 9      # small variants

    # JPEG
    photo, small = smooth(H, W, 1), smooth(h, w, 2)
    for s in ["444", "422", "420", "440", "411"]:
        f[f"jpeg_{s}.jpg"] = jpeg(photo, s, 90)
    f["jpeg_420_progressive.jpg"] = jpeg(photo, "420", 85, progressive=True)
    f["jpeg_444_progressive.jpg"] = jpeg(small, "444", 85, progressive=True)
    f["jpeg_422_q30.jpg"] = jpeg(small, "422", 30)
    f["jpeg_gray.jpg"] = jpeg(photo[:, :, 1], "gray", 90)
    f["jpeg_gray_progressive.jpg"] = jpeg(small[:, :, 0], "gray", 90, progressive=True)
    cmyk = noise((h, w, 4), 256, 3).astype(np.uint8)
    cmyk[..., :3] = small  # some structure
    f["jpeg_cmyk_adobe.jpg"] = jpeg(cmyk, "444", 92)
    f["jpeg_cmyk_no_adobe.jpg"] = without_segment(jpeg(cmyk, "444", 92), 0xEE)
    f["jpeg_1x1.jpg"] = jpeg(smooth(1, 1, 4), "420", 90)
    f["jpeg_1x17.jpg"] = jpeg(smooth(1, 17, 5), "420", 90)
    f["jpeg_100x100.jpg"] = jpeg(smooth(100, 100, 6), "420", 90)
    # Valid frame headers TurboJPEG's tjDecompressHeader3 refuses (no named
    # subsampling): libjpeg and TensorFlow decode them (with warnings).
    base444 = jpeg(small, "444", 90)
    f["jpeg_sampling_3x1.jpg"] = with_sampling(base444, [0x31, 0x11, 0x11])
    f["jpeg_sampling_chroma_2x2.jpg"] = with_sampling(base444, [0x11, 0x22, 0x11])
    # Corrupt but complete: libjpeg warns, TensorFlow decodes.
    j = f["jpeg_420.jpg"]
    n = len(j)
    f["jpeg_corrupt_data.jpg"] = j[:n // 2] + bytes([j[n // 2] ^ 0x5A]) + j[n // 2 + 1:]
    f["jpeg_zeroed_data.jpg"] = j[:n // 2] + b"\x00" * 40 + j[n // 2 + 40:]
    f["jpeg_eoi_mid_scan.jpg"] = j[:n * 2 // 3] + b"\xff\xd9"
    f["jpeg_garbage_after_eoi.jpg"] = j + b"\x00garbage\xff\xd8\xff"
    app0_end = 2 + 2 + jpeg_segments(j)[0][2]
    f["jpeg_bytes_between_markers.jpg"] = j[:app0_end] + b"\x01\x02\x03" + j[app0_end:]
    # A segment holding its own end-of-image marker must be skipped by length.
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 12) + b"Exif\x00\x00\xff\xd8\xff\xd9\x00\x00"
    f["jpeg_app1_with_eoi.jpg"] = j[:2] + app1 + j[2:]
    # Refused: truncated anywhere before the end-of-image marker.
    f["jpeg_truncated_half.jpg"] = j[:n // 2]
    f["jpeg_no_eoi.jpg"] = j[:-2]
    f["jpeg_truncated_1.jpg"] = j[:-1]
    f["jpeg_truncated_header.jpg"] = j[:100]
    f["jpeg_soi_only.jpg"] = j[:3]
    f["jpeg_app1_with_eoi_truncated.jpg"] = (j[:2] + app1 + j[2:])[:n // 2]
    f["jpeg_progressive_truncated.jpg"] = f["jpeg_420_progressive.jpg"][:-40]
    f["jpeg_two_components.jpg"] = (lambda d: d[:d.index(b"\xff\xc0") + 9] + b"\x02" + d[d.index(b"\xff\xc0") + 10:])(base444)

    # PNG
    rgb, rgba = noise((H, W, 3), 256, 10), noise((h, w, 4), 256, 11)
    f["png_rgb8.png"] = png(rgb, 2, 8)
    f["png_rgb8_interlaced.png"] = png(rgb, 2, 8, interlace=True)
    f["png_rgba8.png"] = png(rgba, 6, 8)
    f["png_rgba8_interlaced.png"] = png(rgba, 6, 8, interlace=True)
    f["png_rgb16.png"] = png(noise((h, w, 3), 65536, 12), 2, 16)
    f["png_rgba16.png"] = png(noise((h, w, 4), 65536, 13), 6, 16)
    f["png_rgba16_interlaced.png"] = png(noise((h, w, 4), 65536, 14), 6, 16, interlace=True)
    for depth in [1, 2, 4, 8, 16]:
        f[f"png_gray{depth}.png"] = png(noise((h, w), 1 << depth, 20 + depth), 0, depth)
    f["png_gray1_interlaced.png"] = png(noise((H, W), 2, 26), 0, 1, interlace=True)
    f["png_gray_alpha8.png"] = png(noise((h, w, 2), 256, 27), 4, 8)
    f["png_gray_alpha16.png"] = png(noise((h, w, 2), 65536, 28), 4, 16)
    for depth in [1, 2, 4, 8]:
        colors = noise((1 << depth, 3), 256, 30 + depth)
        f[f"png_palette{depth}.png"] = png(noise((h, w), 1 << depth, 40 + depth), 3, depth, palette=colors)
    colors = noise((256, 3), 256, 50)
    f["png_palette8_trns.png"] = png(noise((h, w), 256, 51), 3, 8, palette=colors, trns=bytes(range(0, 250, 10)))
    f["png_palette4_trns_interlaced.png"] = png(noise((H, W), 16, 52), 3, 4, palette=colors[:16],
                                                 trns=b"\x00\x80", interlace=True)
    f["png_palette_short_plte.png"] = png(noise((h, w), 8, 53), 3, 8, palette=colors[:5])
    g = noise((h, w), 256, 54)
    f["png_gray8_trns.png"] = png(g, 0, 8, trns=struct.pack(">H", int(g[0, 0])))
    c = noise((h, w, 3), 256, 55)
    f["png_rgb8_trns.png"] = png(c, 2, 8, trns=struct.pack(">HHH", *[int(v) for v in c[0, 0]]))
    f["png_rgb8_gama_srgb.png"] = png(c, 2, 8, extra=png_chunk(b"gAMA", struct.pack(">I", 100000))
                                      + png_chunk(b"sRGB", b"\x00"))
    f["png_1x1.png"] = png(np.array([[[1, 2, 3]]]), 2, 8)
    f["png_1x1_interlaced.png"] = png(np.array([[[200, 100, 50, 7]]]), 6, 8, interlace=True)
    f["png_wide_1x40.png"] = png(noise((1, 40, 3), 256, 56), 2, 8)
    p = f["png_rgb8.png"]
    raw = png_raw(rgb, 2, 8)
    z = zlib.compress(raw, 9)
    f["png_data_after_iend.png"] = p + b"garbage"
    f["png_bad_crc_ancillary.png"] = p[:33] + png_chunk(b"tEXt", b"a\x00b")[:-1] + b"\x00" + p[33:]
    f["png_too_much_data.png"] = png(rgb, 2, 8, idat=zlib.compress(raw + b"\x00" * 200, 9))
    f["png_bytes_after_zlib.png"] = png(rgb, 2, 8, idat=z + b"\x00\x01\x02")
    f["png_split_idat.png"] = (p[:33] + png_chunk(b"IDAT", z[:10]) + png_chunk(b"IDAT", b"")
                               + png_chunk(b"IDAT", z[10:]) + png_chunk(b"IEND", b""))
    f["png_truncated_half.png"] = p[:len(p) // 2]
    f["png_no_iend.png"] = p[:-12]
    f["png_truncated_iend.png"] = p[:-3]
    f["png_signature_only.png"] = p[:8]
    f["png_header_only.png"] = p[:33]
    f["png_bad_adler.png"] = png(rgb, 2, 8, idat=z[:-4] + bytes([z[-4] ^ 1]) + z[-3:])
    f["png_too_little_data.png"] = png(rgb, 2, 8, idat=zlib.compress(raw[:len(raw) // 2], 9))
    f["png_truncated_zlib.png"] = png(rgb, 2, 8, idat=z[:len(z) // 2])
    f["png_bad_filter.png"] = png(rgb, 2, 8, idat=zlib.compress(b"\x07" + raw[1:], 9))
    f["png_bad_crc_idat.png"] = p[:60] + bytes([p[60] ^ 1]) + p[61:]
    f["png_unknown_critical_chunk.png"] = p[:33] + png_chunk(b"ABCD", b"xx") + p[33:]
    f["png_palette_without_plte.png"] = png(noise((h, w), 4, 57), 3, 8)
    f["png_zero_width.png"] = p[:8] + png_ihdr(0, H, 8, 2) + p[33:]

    # BMP
    bgr, bgra = noise((H, W, 3), 256, 60), noise((h, w, 4), 256, 61)
    idx, colors = noise((h, w), 256, 62), noise((256, 3), 256, 63)
    f["bmp_24.bmp"] = bmp(bgr, 24)
    f["bmp_24_top_down.bmp"] = bmp(bgr, 24, top_down=True)
    f["bmp_24_width1.bmp"] = bmp(bgr[:, :1], 24)
    f["bmp_24_width2.bmp"] = bmp(bgr[:7, :2], 24)
    f["bmp_32.bmp"] = bmp(bgra, 32)
    f["bmp_32_top_down.bmp"] = bmp(bgra, 32, top_down=True)
    f["bmp_32_bitfields.bmp"] = bmp(bgra, 32, compression=3, masks=struct.pack("<III", 0xFF0000, 0xFF00, 0xFF))
    f["bmp_8_palette.bmp"] = bmp(idx, 8, palette=colors)
    f["bmp_8_palette_top_down.bmp"] = bmp(idx[:5, :7], 8, palette=colors[:16], top_down=True)
    f["bmp_24_v5_header.bmp"] = bmp(bgr[:h, :w], 24, dib_size=124)
    f["bmp_24_gap_before_pixels.bmp"] = bmp(bgr[:h, :w], 24, gap=b"\x00" * 6)
    f["bmp_24_rle_field.bmp"] = bmp(bgr[:h, :w], 24, compression=1)
    f["bmp_4_palette.bmp"] = bmp(noise((h, w), 16, 64), 4, palette=colors[:16])
    f["bmp_1_palette.bmp"] = bmp(noise((h, w), 2, 65), 1, palette=colors[:2])
    f["bmp_16.bmp"] = bmp(noise((h, w, 2), 256, 66), 16)
    b = f["bmp_24.bmp"]
    f["bmp_24_trailing_bytes.bmp"] = bmp(bgr[:h, :w], 24, tail=b"\x00\x00")
    f["bmp_24_truncated_1.bmp"] = b[:-1]
    f["bmp_24_truncated_40.bmp"] = b[:40]
    f["bmp_short_20.bmp"] = b[:20]
    f["bmp_width0.bmp"] = b[:18] + struct.pack("<i", 0) + b[22:]
    f["bmp_height0.bmp"] = b[:22] + struct.pack("<i", 0) + b[26:]
    f["bmp_negative_offset.bmp"] = b[:10] + struct.pack("<i", -5) + b[14:]

    # GIF
    colors, idx = noise((16, 3), 256, 70), noise((H, W), 16, 71)
    local = noise((16, 3), 256, 72)
    f["gif_basic.gif"] = gif(W, H, [gif_frame(idx)], colors)
    f["gif_interlaced.gif"] = gif(W, H, [gif_frame(idx, interlace=True)], colors)
    f["gif_interlaced_5_rows.gif"] = gif(w, 5, [gif_frame(idx[:5, :w], interlace=True)], colors)
    f["gif_local_table.gif"] = gif(W, H, [gif_frame(idx, colors=local)], colors)
    f["gif_local_table_only.gif"] = gif(W, H, [gif_frame(idx, colors=local)])
    f["gif_87a.gif"] = gif(W, H, [gif_frame(idx)], colors, version=b"87a")
    small = noise((h, w), 16, 73)
    f["gif_frame_offset_in_screen.gif"] = gif(W, H, [gif_frame(small, left=4, top=2)], colors)
    f["gif_frame_at_origin_in_screen.gif"] = gif(W, H, [gif_frame(small)], colors)
    f["gif_frame_beyond_screen.gif"] = gif(w, h, [gif_frame(idx, left=3, top=1)], colors)
    f["gif_first_frame_smaller.gif"] = gif(W, H, [gif_frame(small, left=3, top=2), gif_frame(idx)], colors)
    f["gif_second_frame_offset.gif"] = gif(W, H, [gif_frame(idx), gif_frame(small, left=30, top=20)], colors)
    f["gif_transparent.gif"] = gif(W, H, [gif_gce(3) + gif_frame(idx)], colors)
    f["gif_transparent_offset.gif"] = gif(w + 4, h + 3, [gif_gce(5) + gif_frame(small, left=2, top=1),
                                                           gif_frame(noise((h + 3, w + 4), 16, 74))], colors)
    f["gif_gce_without_transparency.gif"] = gif(W, H, [gif_gce(None) + gif_frame(idx)], colors)
    f["gif_gce_5_bytes.gif"] = gif(W, H, [gif_gce(3, size=5) + gif_frame(idx)], colors)
    f["gif_two_gces.gif"] = gif(W, H, [gif_gce(None) + gif_gce(3) + gif_frame(idx)], colors)
    netscape = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    comment = b"\x21\xfe" + sub_blocks(b"made for Graft's decoder tests")
    f["gif_extensions.gif"] = gif(W, H, [netscape, comment, gif_gce(7) + gif_frame(idx), gif_frame(idx)], colors)
    few, idx5 = colors[:4], noise((h, w), 5, 75)
    f["gif_transparent_index_past_table.gif"] = gif(w, h, [gif_gce(4) + gif_frame(idx5, code_size=3)], few)
    many, big = noise((256, 3), 256, 76), noise((64, 80), 256, 77)
    f["gif_256_colors_clear.gif"] = gif(80, 64, [gif_frame(big)], many)
    f["gif_256_colors_deferred_clear.gif"] = gif(80, 64, [gif_frame(big, clear_when_full=False)], many)
    f["gif_2_colors.gif"] = gif(w, h, [gif_frame(noise((h, w), 2, 78))], colors[:2])
    f["gif_code_size_1.gif"] = gif(w, h, [gif_frame(noise((h, w), 2, 79), code_size=1)], colors[:2])
    f["gif_code_size_8_few_colors.gif"] = gif(w, h, [gif_frame(small, code_size=8)], colors)
    f["gif_extra_codes.gif"] = gif(W, H, [gif_frame(idx, extra_codes=(1, 2, 3))], colors)
    g = f["gif_basic.gif"]
    f["gif_no_trailer.gif"] = g[:-1]
    f["gif_data_after_trailer.gif"] = g + b"garbage"
    f["gif_garbage_instead_of_trailer.gif"] = g[:-1] + b"xyz"
    idx2 = noise((H, W), 16, 80)
    two = gif(W, H, [gif_frame(idx), gif_frame(idx2)], colors)
    f["gif_second_frame_truncated.gif"] = two[:-30]
    f["gif_second_frame_early_end.gif"] = gif(W, H, [gif_frame(idx), gif_frame(idx2, stop_after=100)], colors)
    f["gif_second_frame_bad_index.gif"] = gif(w, h, [gif_frame(small), gif_frame(idx5, colors=few, code_size=3)],
                                              colors)
    big2 = noise((H + 5, W + 9), 16, 81)
    f["gif_larger_broken_second_frame.gif"] = gif(W, H, [gif_frame(idx), gif_frame(big2, stop_after=50)], colors)
    f["gif_larger_third_frame_after_break.gif"] = gif(W, H, [gif_frame(idx), gif_frame(idx2, stop_after=50),
                                                             gif_frame(big2)], colors)
    zero = b"\x2c" + struct.pack("<HHHH", 0, 0, 0, 5) + b"\x00\x02" + sub_blocks(b"\x00")
    f["gif_zero_size_second_frame.gif"] = gif(W, H, [gif_frame(idx), zero, gif_frame(big2)], colors)
    f["gif_no_table.gif"] = gif(W, H, [gif_frame(idx)])
    f["gif_index_past_table.gif"] = gif(w, h, [gif_frame(idx5, code_size=3)], few)
    f["gif_truncated_half.gif"] = g[:len(g) // 2]
    f["gif_truncated_end.gif"] = g[:-20]
    f["gif_no_block_terminator.gif"] = g[:-2]
    f["gif_truncated_screen.gif"] = g[:10]
    f["gif_truncated_table.gif"] = g[:30]
    f["gif_early_end_code.gif"] = gif(W, H, [gif_frame(idx, stop_after=W * H // 2)], colors)
    f["gif_no_frames.gif"] = gif(W, H, [], colors)
    f["gif_zero_size_first_frame.gif"] = gif(W, H, [zero, gif_frame(idx)], colors)
    f["gif_code_size_9.gif"] = (lambda fr: gif(W, H, [fr[:10] + b"\x09" + fr[11:]], colors))(gif_frame(idx))
    f["gif_empty_sub_block.gif"] = gif(W, H, [gif_frame(idx, data=lzw(idx.reshape(-1), 4)[:100])[:-1] + b"\x00"],
                                       colors)

    # giflib (TF's) reads a code not yet in the table as the previous string
    # plus a byte of its own making, and goes on: TF decodes such a stream.
    flat = idx.reshape(-1)
    f["gif_undefined_code.gif"] = gif(W, H, [gif_frame(idx, data=lzw(flat[:50], 4, extra_codes=(100,),
                                                                     then=flat[50:]))], colors)
    f["gif_undefined_code_after_clear.gif"] = gif(W, H, [gif_frame(idx, data=lzw(flat[:50], 4, extra_codes=(16, 30),
                                                                                then=flat))], colors)

    # Damaged copies of a few files (flipped, overwritten, deleted, inserted
    # bytes): whatever TensorFlow makes of them, pixels or refusal.
    rng = random.Random(2024)
    for source in ["jpeg_420.jpg", "jpeg_420_progressive.jpg", "jpeg_cmyk_adobe.jpg", "png_rgb8.png",
                   "png_palette4_trns_interlaced.png", "bmp_8_palette.bmp", "gif_basic.gif", "gif_interlaced.gif",
                   "gif_256_colors_clear.gif", "gif_transparent_offset.gif"]:
        stem, ext = source.rsplit(".", 1)
        for k in range(6):
            f[f"damaged_{stem}_{k}.{ext}"] = damage(f[source], k, rng)

    # Sniffing and unknown formats
    f["png_named_as.jpg"] = f["png_rgb8.png"]
    f["jpeg_named_as.png"] = f["jpeg_444.jpg"]
    f["unknown.png"] = bytes(noise(64, 256, 90).astype(np.uint8))
    f["text.jpg"] = b"this is not an image\n"
    f["empty.png"] = b""
    f["riff_not_webp.bmp"] = b"RIFF" + struct.pack("<I", 20) + b"WAVEfmt " + b"\x00" * 12
    return f


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build_into(Path(sys.argv[1]).resolve(), lambda folder: write(str(folder)))


def write(out):
    import tensorflow as tf

    def decode(data):
        try:
            return tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
        except (tf.errors.InvalidArgumentError, ValueError):
            return None

    lines, decoded, refused = [], 0, 0
    for name, data in sorted(fixtures().items()):
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
        pixels = decode(data)
        again = decode(data)
        if (pixels is None) != (again is None) or (pixels is not None and not np.array_equal(pixels, again)):
            sys.exit(f"{name}: TensorFlow decodes it differently each time; leave it out")
        if pixels is None:
            lines.append(f"{name} error")
            refused += 1
            continue
        assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3, (name, pixels.shape)
        with open(os.path.join(out, name + ".rgb"), "wb") as fh:
            fh.write(pixels.tobytes())
        lines.append(f"{name} {pixels.shape[0]} {pixels.shape[1]}")
        decoded += 1
    with open(os.path.join(out, "manifest.txt"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "STAMP"), "w") as fh:  # written last
        fh.write(f"tensorflow {tf.__version__}\nnumpy {np.__version__}\n")
    print(f"decoder fixtures: {decoded + refused} images ({decoded} decoded by TensorFlow {tf.__version__}, "
          f"{refused} refused)")


if __name__ == "__main__":
    main()
