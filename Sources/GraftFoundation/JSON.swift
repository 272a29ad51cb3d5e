/// A JSON value, its objects' members kept in order: what Keras's model
/// configurations (`config.json`, the `model_config` attribute) are read
/// into and written from. Integers stay apart from other numbers, as
/// Python's json module keeps them (Keras takes `filters: 64`, not 64.0).
public indirect enum JSON: Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([Member])

    public struct Member: Equatable {
        public let key: String
        public let value: JSON
        public init(_ key: String, _ value: JSON) { (self.key, self.value) = (key, value) }
    }

    /// The deepest nesting `parse` accepts: hostile text cannot exhaust the stack.
    public static let maxDepth = 256

    // MARK: - Reading a value

    /// The value of member `key` of an object (the first, if repeated), or nil.
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { a } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var isNull: Bool { self == .null }
    /// An integer, or a number that is a whole one.
    public var integerValue: Int? {
        switch self {
        case .integer(let i): Int(exactly: i)
        case .number(let d): d.isFinite ? Int(exactly: d) : nil
        default: nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }

    // MARK: - Text

    /// The text as Python's `json.dumps` writes it (", " and ": "
    /// separators, NaN and Infinity as Python writes them, non-ASCII kept).
    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d):
            // Swift's shortest round-trip digits, as Python's repr writes them.
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += "\(d)" }
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let values):
            out += "["
            for (i, value) in values.enumerated() {
                if i > 0 { out += ", " }
                value.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += ", " }
                JSON.writeString(member.key, to: &out)
                out += ": "
                member.value.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
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
        out += "\""
    }

    /// Parses `text` (UTF-8): RFC 8259 plus Python's NaN, Infinity and
    /// -Infinity. Throws `GraftError.format` naming the byte offset of the
    /// first error.
    public static func parse(_ text: [UInt8]) throws -> JSON {
        var parser = JSONParser(bytes: text)
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.position == text.count else { throw parser.failure("unexpected text after the value") }
        return value
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var position = 0

    func failure(_ what: String) -> GraftError {
        GraftError.format("invalid JSON at byte \(position): \(what)")
    }

    mutating func skipSpace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func consume(_ literal: String) -> Bool {
        let utf8 = Array(literal.utf8)
        guard bytes.count - position >= utf8.count, Array(bytes[position..<position + utf8.count]) == utf8 else { return false }
        position += utf8.count
        return true
    }

    mutating func value(depth: Int) throws -> JSON {
        guard depth < JSON.maxDepth else { throw failure("nested deeper than \(JSON.maxDepth) levels") }
        skipSpace()
        guard position < bytes.count else { throw failure("unexpected end") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            var members: [JSON.Member] = []
            skipSpace()
            if consume("}") { return .object(members) }
            repeat {
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw failure("expected a member name") }
                let key = try string()
                skipSpace()
                guard consume(":") else { throw failure("expected ':'") }
                members.append(JSON.Member(key, try value(depth: depth + 1)))
                skipSpace()
            } while consume(",")
            guard consume("}") else { throw failure("expected ',' or '}'") }
            return .object(members)
        case UInt8(ascii: "["):
            position += 1
            var values: [JSON] = []
            skipSpace()
            if consume("]") { return .array(values) }
            repeat {
                values.append(try value(depth: depth + 1))
                skipSpace()
            } while consume(",")
            guard consume("]") else { throw failure("expected ',' or ']'") }
            return .array(values)
        case UInt8(ascii: "\""):
            return .string(try string())
        default:
            if consume("null") { return .null }
            if consume("true") { return .bool(true) }
            if consume("false") { return .bool(false) }
            if consume("NaN") { return .number(.nan) }
            if consume("Infinity") { return .number(.infinity) }
            if consume("-Infinity") { return .number(-.infinity) }
            return try number()
        }
    }

    private mutating func number() throws -> JSON {
        let start = position
        var isInteger = true
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { isInteger = false }
            guard (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || [UInt8(ascii: "-"), UInt8(ascii: "+"),
                  UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(c) else { break }
            position += 1
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if isInteger, let i = Int64(text) { return .integer(i) }
        guard !text.isEmpty, let d = Double(text) else {
            position = start
            throw failure("expected a value")
        }
        return .number(d)
    }

    private mutating func string() throws -> String {
        position += 1  // the opening quote
        var scalars = String.UnicodeScalarView()
        var run = position
        func flush(_ end: Int) { scalars.append(contentsOf: String(decoding: bytes[run..<end], as: UTF8.self).unicodeScalars) }
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                flush(position)
                position += 1
                return String(scalars)
            }
            guard c >= 0x20 else { throw failure("control character in a string") }
            guard c == UInt8(ascii: "\\") else { position += 1; continue }
            flush(position)
            position += 1
            guard position < bytes.count else { break }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), consume("\\u") {
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw failure("unpaired surrogate") }
                scalars.append(scalar)
            default: throw failure("unknown escape")
            }
            run = position
        }
        throw failure("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - position >= 4,
              let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else {
            throw failure("bad \\u escape")
        }
        position += 4
        return code
    }
}
