/// The one error type of Graft. `kind` says what went wrong in terms a caller
/// can act on (it becomes the C ABI's status code); `message` says exactly
/// what, naming the file, layer or argument and the values involved.
public struct GraftError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable {
        /// A NULL, a count or size out of range, an unknown option value.
        case invalidArgument
        /// A file that is missing or cannot be read or written.
        case io
        /// A file that is readable but not what it should be: corrupt,
        /// truncated, of another architecture, a weight of the wrong shape.
        case format
        /// The operation does not apply to the object in its current state.
        case state
        /// Training met a loss that is not a finite number.
        case numeric
        /// A progress callback asked to stop.
        case cancelled
        case outOfMemory
        /// Another process of a distributed group failed, died or did not
        /// answer within the timeout; the group cannot go on.
        case distributed
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func invalidArgument(_ message: String) -> GraftError { GraftError(.invalidArgument, message) }
    public static func io(_ message: String) -> GraftError { GraftError(.io, message) }
    public static func format(_ message: String) -> GraftError { GraftError(.format, message) }
}
