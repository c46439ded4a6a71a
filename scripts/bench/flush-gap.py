#!/usr/bin/env python3
"""How an idle gap before a write changes the next fdatasync on this disk (BENCHMARKS-journal.md, 2026-12-07).

Writes 17 KiB chunks (64 journal frames) into a file zero-filled 1 MiB ahead, as the journal does, one fdatasync per
chunk, with a pause (busy loop, or sleep) before each write; prints the mean fdatasync in µs and a histogram
(<50, <100, <200, <500, >=500 µs). No Hygge involved: it shows the disk, not the journal.

Usage: scripts/bench/flush-gap.py [DIR]   (default: a temporary directory; put it on the data disk)
"""
import os, sys, tempfile, time


def pause(microseconds, mode):
    if mode == "sleep":
        time.sleep(microseconds / 1e6)
        return
    end = time.perf_counter() + microseconds / 1e6
    while time.perf_counter() < end:
        pass


def run(directory, gap_us, mode, chunk=17408, seconds=1.5, step=1 << 20):
    path = os.path.join(directory, "flush-gap.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    data = b"a" * chunk
    end_of_data = zeroed = flushes = 0
    total = 0.0
    histogram = [0] * 5
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            if gap_us:
                pause(gap_us, mode)
            if end_of_data + chunk + 16 > zeroed:
                target = end_of_data + chunk + 16 + step
                os.pwrite(fd, b"\0" * (target - zeroed), zeroed)
                zeroed = target
            os.pwrite(fd, data, end_of_data)
            end_of_data += chunk
            started = time.perf_counter()
            os.fdatasync(fd)
            took = (time.perf_counter() - started) * 1e6
            total += took
            histogram[0 if took < 50 else 1 if took < 100 else 2 if took < 200 else 3 if took < 500 else 4] += 1
            flushes += 1
    finally:
        os.close(fd)
        os.unlink(path)
    return total / max(flushes, 1), histogram


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="flush-gap-")
    print("gap µs  mode   mean fdatasync µs  histogram <50,<100,<200,<500,>=500")
    for gap in (0, 30, 70, 150):
        for mode in ("busy", "sleep"):
            mean, histogram = run(directory, gap, mode)
            print(f"{gap:6d}  {mode:5s}  {mean:17.1f}  {histogram}")


if __name__ == "__main__":
    main()
