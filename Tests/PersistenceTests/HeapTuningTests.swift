import Persistence
import Testing

@Suite("Heap tuning")
struct HeapTuningTests {
    @Test("applies glibc's top pad unless the operator set GLIBC_TUNABLES")
    func operatorWins() {
        #expect(!HeapTuning.apply(environment: ["GLIBC_TUNABLES": "glibc.malloc.top_pad=0"]))
        #if canImport(Glibc)
        #expect(HeapTuning.apply(environment: [:]))
        #expect(HeapTuning.apply(environment: ["GLIBC_TUNABLES": ""]))
        #endif
    }
}
