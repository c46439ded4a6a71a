#!/usr/bin/env python3
"""The disk's own flush costs, outside Hygge (BENCHMARKS-journal.md, ninth session).

usage: scripts/bench/raw-fdatasync.py [DIR] [--seconds S]
  curve:   records/s and µs per pwrite+fdatasync cycle for 1..128 256-byte records per fdatasync, into a pre-zeroed
           file (as the journal writes into preallocated space)
  overlap: 32 records per fdatasync from one thread, then from two threads at once (one file, and two files): whether
           the disk overlaps concurrent flushes
Python adds about 10 µs per cycle to what the Swift raw loop of `hygge journal bench` measures.
"""
import argparse
import os
import threading
import time

RECORD = 256
FILE_BYTES = 64 << 20


def zero_file(path, size=FILE_BYTES):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"\0" * size)
    os.fsync(fd)
    return fd


def loop(fd, records, seconds, lo=0, hi=FILE_BYTES):
    """pwrite `records` records at once then fdatasync, wrapping within [lo, hi); returns (records/s, µs per cycle)."""
    buf = b"a" * (RECORD * records)
    off, done, cycles = lo, 0, 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        if off + len(buf) > hi:
            off = lo
        os.pwrite(fd, buf, off)
        off += len(buf)
        os.fdatasync(fd)
        done += records
        cycles += 1
    elapsed = time.perf_counter() - start
    return done / elapsed, elapsed / cycles * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", nargs="?", default=".bench-data")
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    paths = [os.path.join(args.dir, f"raw-fdatasync-{i}.bin") for i in range(2)]
    try:
        fd = zero_file(paths[0])
        print("curve: records per fdatasync, records/s, µs per cycle")
        for records in (1, 8, 16, 32, 48, 64, 128):
            rate, micros = loop(fd, records, args.seconds)
            print(f"  {records:4d} {rate:12.0f} {micros:8.1f}")
        os.close(fd)

        print("overlap: 32 records per fdatasync")
        fd = zero_file(paths[0])
        rate, _ = loop(fd, 32, args.seconds)
        print(f"  one thread            {rate:12.0f} records/s")
        for mode in ("one file", "two files"):
            fds = [fd, fd] if mode == "one file" else [fd, zero_file(paths[1])]
            rates = [0.0, 0.0]

            def run(i):
                # Each thread wraps within its own half of the file, or its own file.
                lo, hi = ((i * FILE_BYTES // 2, (i + 1) * FILE_BYTES // 2) if mode == "one file" else (0, FILE_BYTES))
                rates[i] = loop(fds[i], 32, args.seconds, lo, hi)[0]

            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            print(f"  two threads, {mode:9s} {sum(rates):12.0f} records/s ({rates[0]:.0f} + {rates[1]:.0f})")
            if mode == "two files":
                os.close(fds[1])
        os.close(fd)
    finally:
        for path in paths:
            if os.path.exists(path):
                os.unlink(path)


if __name__ == "__main__":
    main()
