import Foundation
import GraftKernels

/// Reference data written by Keras and TensorFlow themselves
/// (tools/make_data_fixtures.py and tools/make_decode_fixtures.py, run by
/// `make fixtures`) under .fixtures/ (or $GRAFT_FIXTURES). A missing fixture
/// fails the test that needs it.
enum DataFixtures {
    static let root: String = {
        if let dir = ProcessInfo.processInfo.environment["GRAFT_FIXTURES"], !dir.isEmpty { return dir }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".fixtures").path
    }()

    struct Missing: Error, CustomStringConvertible {
        let path: String
        var description: String { "missing fixture \(path): run `make fixtures` (Keras and TensorFlow write them)" }
    }

    static func path(_ relative: String) throws -> String {
        let path = root + "/" + relative
        guard FileManager.default.fileExists(atPath: path) else { throw Missing(path: path) }
        return path
    }

    static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: try path(relative)))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func floats(_ relative: String, count: Int) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: try path(relative)))
        precondition(data.count == count * 4, "\(relative): \(data.count) bytes, expected \(count) floats")
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
