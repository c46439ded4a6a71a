import ArgumentParser

/// The `hygge` binary: the service, its load test and the offline data tools.
@main
struct Hygge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hygge",
        abstract: "Shopify ↔ Whop payment connector.",
        subcommands: [Serve.self, LoadTestCommand.self, SnapshotCommand.self, JournalCommand.self, KeysCommand.self]
    )
}
