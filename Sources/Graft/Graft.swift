import CGraftABI
import GraftFoundation

// Graft's Swift API: the Keras ResNet transfer-learning workflow over the
// same core as the C ABI, in a handful of types (ResNetBase, TransferModel,
// ImageDataset, Optimizer, History). The core's own modules stay internal to
// the package; this target is the only one a Swift program sees.

/// The release, "MAJOR.MINOR.PATCH": graft.h's `GRAFT_VERSION`, which
/// `graft_version()`, `graft --version` and Python's `graft.__version__` report too.
public let version: String = GRAFT_VERSION

/// What every throwing call of Graft throws: a kind (invalid argument, I/O,
/// format, state, ...) and a message naming the file, layer, shape or argument.
public typealias GraftError = GraftFoundation.GraftError

/// An image size, height then width, as Keras's `image_size=(height, width)`.
public struct ImageSize: Equatable, Sendable {
    public var height: Int
    public var width: Int

    public init(height: Int, width: Int) {
        (self.height, self.width) = (height, width)
    }

    /// A square size.
    public init(_ side: Int) {
        self.init(height: side, width: side)
    }
}
