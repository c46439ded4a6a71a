#!/usr/bin/env python3
"""How the shape of the writes before an fdatasync changes the fdatasync on this disk (BENCHMARKS-journal.md,
2026-12-07, sixth session): 16 KiB (64 records of 256 B) written over a zero-filled, fsynced 64 MiB file as one write,
or as writes of 8 KiB … 256 B, then one fdatasync; prints the mean time of the writes and of the fdatasync.

Usage: scripts/bench/write-shape.py [DIR]   (default: a temporary directory; put it on the data disk)
"""
import os, sys, tempfile, time

directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.gettempdir()
path = os.path.join(directory, "write-shape.bin")
size = 64 << 20
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
try:
    for _ in range(size >> 20):
        os.write(fd, b"\0" * (1 << 20))
    os.fsync(fd)
    print(f"{'write size':>10} {'batches':>8} {'writes µs':>10} {'fdatasync µs':>13}")
    for write_size in [16384, 8192, 4096, 2048, 1024, 256]:
        record = b"a" * write_size
        offset = batches = 0
        writing = syncing = 0.0
        start = time.perf_counter()
        while time.perf_counter() - start < 1.0:
            if offset + 16384 > size:
                offset = 0
            a = time.perf_counter()
            for _ in range(16384 // write_size):
                os.pwrite(fd, record, offset)
                offset += write_size
            b = time.perf_counter()
            os.fdatasync(fd)
            c = time.perf_counter()
            writing += b - a
            syncing += c - b
            batches += 1
        print(f"{write_size:>10} {batches:>8} {writing / batches * 1e6:>10.0f} {syncing / batches * 1e6:>13.0f}")
finally:
    os.close(fd)
    os.unlink(path)
