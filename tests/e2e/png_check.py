#!/usr/bin/env python3
"""tests/e2e/png_check.py — look at a screenshot without PIL (zlib only).

  png_check.py FILE size               prints "W H"
  png_check.py FILE count RRGGBB [TOL] how many pixels have that colour (each
                                       channel within TOL, default 12)
  png_check.py FILE edge N [RRGGBB]    how many pixels of the N rightmost
                                       columns differ from the background
                                       (default f6f6f4): text that overflows the
                                       window shows up there
Only what Chromium writes: 8-bit RGB or RGBA, not interlaced.
"""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("not a PNG: %s" % path)
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise SystemExit("unsupported PNG (depth %d type %d)" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def rgb(hexstr):
    return tuple(int(hexstr[i:i + 2], 16) for i in (0, 2, 4))


def main():
    path, what = sys.argv[1], sys.argv[2]
    w, h, bpp, rows = read_png(path)
    if what == "size":
        print(w, h)
    elif what == "count":
        want = rgb(sys.argv[3])
        tol = int(sys.argv[4]) if len(sys.argv) > 4 else 12
        n = 0
        for row in rows:
            for x in range(0, w * bpp, bpp):
                if all(abs(row[x + k] - want[k]) <= tol for k in range(3)):
                    n += 1
        print(n)
    elif what == "edge":
        cols = int(sys.argv[3])
        bg = rgb(sys.argv[4] if len(sys.argv) > 4 else "f6f6f4")
        n = 0
        for row in rows:
            for x in range((w - cols) * bpp, w * bpp, bpp):
                if any(abs(row[x + k] - bg[k]) > 8 for k in range(3)):
                    n += 1
        print(n)


main()
