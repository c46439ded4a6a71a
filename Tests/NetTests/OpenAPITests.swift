import Actors
import Foundation
import HTTPTypes
import Hummingbird
import Net
import Testing

@Suite("openapi.yaml matches the service")
struct OpenAPITests {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `METHOD /path` for every operation of the spec (paths at indent 2, methods at indent 4).
    static func specOperations(_ yaml: String) -> Set<String> {
        var operations: Set<String> = []
        var inPaths = false
        var path: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("paths:") { inPaths = true; continue }
            if inPaths, let first = line.first, first != " ", first != "#" { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path {
                let word = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "delete", "patch", "options"].contains(String(word)) {
                    operations.insert("\(word.uppercased()) \(path)")
                }
            }
        }
        return operations
    }

    @Test("the embedded copy served at /openapi.yaml is the repository's file (run scripts/gen-openapi.sh)")
    func embeddedCopy() async throws {
        let file = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        try await LiveServer.with { live in
            let served = try await live.request("GET", "/openapi.yaml")
            #expect(served.status == 200)
            #expect(served.text == file)
        }
    }

    @Test("every registered public route is described, and every described operation is registered")
    func routesMatch() async throws {
        let file = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        let spec = Self.specOperations(file)
        #expect(spec.count > 10)
        try await LiveServer.with { live in
            let router = makeRouter(live.server.dependencies)
            var registered: Set<String> = []
            for route in router.routes {
                var path = route.path.description
                if !path.hasPrefix("/") { path = "/" + path }
                guard !path.hasPrefix("/sandbox") else { continue }  // the emulators are not Hygge's API
                registered.insert("\(route.method.rawValue) \(path)")
            }
            let undocumented = registered.subtracting(spec)
            #expect(undocumented.isEmpty, "routes missing from openapi.yaml: \(undocumented.sorted())")
            let missing = spec.subtracting(registered)
            #expect(missing.isEmpty, "operations in openapi.yaml without a route: \(missing.sorted())")
        }
    }
}
