import ArgumentParser
import Foundation
import Persistence

/// The `hygge` binary: the service, its load test and the offline data tools.
@main
struct Hygge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hygge",
        abstract: "Shopify ↔ Whop payment connector.",
        subcommands: [Serve.self, LoadTestCommand.self, SnapshotCommand.self, JournalCommand.self, KeysCommand.self]
    )

    /// Tunes the heap before any command runs (see `HeapTuning`), then parses and runs the command.
    static func main() async {
        HeapTuning.apply(environment: ProcessInfo.processInfo.environment)
        await Self.main(nil)
    }
}
