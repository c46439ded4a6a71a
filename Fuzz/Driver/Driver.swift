import FuzzTargets
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// libFuzzer's entry points (this executable is linked with `-sanitize=fuzzer`, which supplies `main`).
//
// Environment: `HYGGE_FUZZ_TARGET` names the target; `HYGGE_FUZZ_LIST=1` prints the target names and exits;
// `HYGGE_FUZZ_WRITE_SEEDS=DIR` writes the target's seeds into DIR and exits. A property violation aborts, so
// libFuzzer saves the input like any crash.

private let target: FuzzTarget = {
    let environment = ProcessInfo.processInfo.environment
    guard let name = environment["HYGGE_FUZZ_TARGET"], let target = FuzzTargets.named(name) else {
        printError("hygge-fuzz: set HYGGE_FUZZ_TARGET to one of: \(FuzzTargets.all.map(\.name).joined(separator: " "))")
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> Int32 {
    let environment = ProcessInfo.processInfo.environment
    if environment["HYGGE_FUZZ_LIST"] == "1" {
        for target in FuzzTargets.all { print("\(target.name)\t\(target.summary)") }
        exit(0)
    }
    if let directory = environment["HYGGE_FUZZ_WRITE_SEEDS"] {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (index, seed) in target.seeds().enumerated() {
            _ = FileManager.default.createFile(atPath: "\(directory)/seed-\(index)", contents: Data(seed))
        }
        exit(0)
    }
    _ = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try target.run(bytes)
    } catch {
        printError("hygge-fuzz: \(target.name): property violated: \(error)")
        abort()
    }
    return 0
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
