import ArgumentParser
import Net

/// `hygge loadtest`: drives the full checkout flow against a sandbox server.
struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "loadtest", abstract: "Drive the full checkout flow against a sandbox server.")
    @Option(help: "Server URL.") var url = "http://127.0.0.1:8080"
    @Option(help: "Checkouts in total.") var checkouts = 200
    @Option(help: "Concurrent flows.") var concurrency = 16

    func run() async throws {
        throw ConfigurationError("loadtest is not built yet")
    }
}
