package import Persistence

/// The payload half of `hygge journal verify` and `hygge journal dump`: decodes every record's payload (format 1 JSON
/// or format 2 binary) offline, as restore would. `JournalInspector` checks only the framing.
package enum JournalPayloadCheck {
    /// What decoding every payload found.
    package struct Report: Sendable, Equatable {
        /// Records per payload format.
        package var json = 0
        package var binary = 0
        /// Records whose payload does not decode.
        package var undecodable = 0
        /// The first of them.
        package var firstFailure: Failure?

        /// A record whose payload does not decode, and why.
        package struct Failure: Sendable, Equatable {
            package var lsn: UInt64
            package var reason: String
        }

        package init() {}
    }

    /// Decodes the payload of every valid record in `directory` (up to a torn tail).
    ///
    /// - Throws: what `JournalInspector.forEachRecord` throws (`JournalError.corrupt` on corruption, `.io`).
    package static func run(directory: String) throws -> Report {
        var report = Report()
        try JournalInspector.forEachRecord(directory: directory) { record in
            switch Self.decode(record) {
            case .success(let entry):
                switch JournalEntry.Format(rawValue: entry.v) {
                case .json: report.json += 1
                case .binary, nil: report.binary += 1
                }
            case .failure(let error):
                report.undecodable += 1
                if report.firstFailure == nil { report.firstFailure = Report.Failure(lsn: record.lsn, reason: error.description) }
            }
        }
        return report
    }

    /// The dump line of one record: `{"lsn":N,"bytes":B,"entry":{…}}`, or `{"lsn":N,"bytes":B,"error":"…"}` for a
    /// payload that does not decode (then `decoded` is false). Sealed values appear only sealed (base64 of the sealed
    /// box).
    package static func dumpLine(_ record: JournalRecord) -> (text: String, decoded: Bool) {
        let head = "{\"lsn\":\(record.lsn),\"bytes\":\(record.payload.count),"
        switch Self.decode(record) {
        case .success(let entry):
            do {
                return (head + "\"entry\":" + (try entry.displayJSON()) + "}", true)
            } catch {
                return (head + "\"error\":" + Self.jsonString("does not encode as JSON: \(error)") + "}", false)
            }
        case .failure(let error):
            return (head + "\"error\":" + Self.jsonString(error.description) + "}", false)
        }
    }

    private static func decode(_ record: JournalRecord) -> Result<JournalEntry, JournalEntry.DecodeError> {
        Result { () throws(JournalEntry.DecodeError) in try JournalEntry(payload: record.payload) }
    }

    /// `text` as a JSON string literal.
    private static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
