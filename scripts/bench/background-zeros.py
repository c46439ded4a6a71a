#!/usr/bin/env python3
"""Writes zeros to a file of its own at a paced rate, 1 MiB + fdatasync per step, for a number of seconds: the load a
background zero-filler puts on the disk (BENCHMARKS-journal.md, 2026-12-07, sixth session). Run it next to
`hygge journal bench` to see what that load costs the journal's fdatasyncs.

Usage: scripts/bench/background-zeros.py MB_PER_S SECONDS [DIR]   (MB_PER_S 0: as fast as the disk takes them)
"""
import os, sys, tempfile, time

rate = float(sys.argv[1]) * 1e6
seconds = float(sys.argv[2])
directory = sys.argv[3] if len(sys.argv) > 3 else tempfile.gettempdir()
step = 1 << 20
path = os.path.join(directory, "background-zeros.bin")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
zeros = b"\0" * step
offset = written = syncs = 0
sync_seconds = 0.0
start = time.perf_counter()
try:
    while time.perf_counter() - start < seconds:
        os.pwrite(fd, zeros, offset)
        offset += step
        if offset >= 64 << 20:
            offset = 0
            os.ftruncate(fd, 0)
        before = time.perf_counter()
        os.fdatasync(fd)
        sync_seconds += time.perf_counter() - before
        syncs += 1
        written += step
        if rate > 0:
            ahead = written / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)
finally:
    os.close(fd)
    os.unlink(path)
elapsed = time.perf_counter() - start
print(f"background zeros: {written / elapsed / 1e6:.0f} MB/s, mean fdatasync {sync_seconds / max(1, syncs) * 1e3:.2f} ms")
