#if canImport(Glibc)
import Glibc
#endif

/// Process-wide malloc settings for a server whose restore allocates a million small objects on every core at once.
package enum HeapTuning {
    /// How far glibc grows a heap beyond each request (`M_TOP_PAD`; default 128 KiB).
    ///
    /// Restore decodes the snapshot's parts on every core, so most of its allocations come from per-thread arenas that
    /// glibc grows a few pages at a time, one `mprotect` each; about 6% of a 1M-checkout restore went to those calls.
    /// 64 MiB of padding makes them rare. It is address space, not memory: untouched pages cost nothing, and a
    /// trimmed heap keeps at most this much free. Measured with `hygge snapshot bench --restore-only`: 1.8-2.0 s
    /// instead of 2.4-3.4 s (BENCHMARKS-journal.md).
    package static let topPadBytes: Int32 = 64 << 20
    /// glibc's `M_TOP_PAD` parameter number.
    static let topPad: Int32 = -2

    /// Applies the settings unless the operator set `GLIBC_TUNABLES` (their `glibc.malloc.*` choice wins).
    /// - Returns: whether the settings were applied.
    @discardableResult
    package static func apply(environment: [String: String]) -> Bool {
        #if canImport(Glibc)
        guard environment["GLIBC_TUNABLES", default: ""].isEmpty else { return false }
        // `<malloc.h>` is not in the Glibc module, so `mallopt` is looked up with C's calling convention.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        return mallopt(Self.topPad, Self.topPadBytes) == 1
        #else
        return false
        #endif
    }
}
