#!/usr/bin/env python3
"""Checks that screenshots show a rendered page, not a blank or error frame (standard library only).

Usage: scripts/png-check.py [--min-colors N] FILE.png...
Decodes each PNG (8-bit RGB/RGBA, non-interlaced, as headless Chromium writes them) and fails when it has fewer than
N distinct colours (default 12: a blank page has 1, text and styled controls give dozens) or when one colour covers
more than 99.5 % of the pixels.
"""
import struct
import sys
import zlib


def pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    offset, idat, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = previous[x]
            c = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, bpp, rows


def main(argv):
    minimum = 12
    if len(argv) > 1 and argv[0] == "--min-colors":
        minimum, argv = int(argv[1]), argv[2:]
    failed = False
    for path in argv:
        width, height, bpp, rows = pixels(path)
        counts = {}
        for row in rows[::3]:
            for x in range(0, len(row), bpp * 2):
                key = row[x:x + 3]
                counts[key] = counts.get(key, 0) + 1
        total = sum(counts.values())
        dominant = max(counts.values()) / total
        ok = len(counts) >= minimum and dominant <= 0.995
        print(f"{'ok ' if ok else 'BAD'} {path}: {width}x{height}, {len(counts)} colours, dominant {dominant:.1%}")
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
