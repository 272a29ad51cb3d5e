/// Keras's RandomFlip augmentation, applied while training only.
///
/// With `horizontalAndVertical`, the two axes are drawn independently, so an
/// image ends as one of four variants, as Keras documents the mode. (keras
/// 3.15.1 draws one coin for both axes, giving only "unchanged" or "rotated by
/// 180 degrees"; Graft follows the documented meaning.)
///
/// An image's draw is `Augmentation`'s, a pure function of (seed, epoch,
/// image index, layer position), so a run is reproducible and a cache can
/// hold each image's variants.
public enum RandomFlip {
    public enum Mode: String, CaseIterable, Sendable {
        case horizontal, vertical
        case horizontalAndVertical = "horizontal_and_vertical"
    }

    /// Which axes one image is flipped on.
    public struct Variant: Equatable, Hashable {
        public var horizontal: Bool
        public var vertical: Bool

        public init(horizontal: Bool, vertical: Bool) {
            self.horizontal = horizontal
            self.vertical = vertical
        }

        public static let identity = Variant(horizontal: false, vertical: false)

        /// 0…3, for indexing per-variant storage.
        public var index: Int { (horizontal ? 1 : 0) + (vertical ? 2 : 0) }

        /// The variant `mode` gives for the random bits `z`: bit 0 is the
        /// horizontal coin, bit 1 the vertical one.
        static func drawn(_ mode: Mode, from z: UInt64) -> Variant {
            let horizontalCoin = z & 1 == 1, verticalCoin = z & 2 == 2
            switch mode {
            case .horizontal: return Variant(horizontal: horizontalCoin, vertical: false)
            case .vertical: return Variant(horizontal: false, vertical: verticalCoin)
            case .horizontalAndVertical: return Variant(horizontal: horizontalCoin, vertical: verticalCoin)
            }
        }
    }

    /// Flips one NHWC image (height × width × channels floats) in place.
    public static func apply(_ variant: Variant, to image: UnsafeMutablePointer<Float>,
                             height: Int, width: Int, channels: Int) {
        if variant.horizontal {
            for y in 0..<height {
                let row = image + y * width * channels
                for x in 0..<(width / 2) {
                    let a = row + x * channels, b = row + (width - 1 - x) * channels
                    for c in 0..<channels { swap(&a[c], &b[c]) }
                }
            }
        }
        if variant.vertical {
            let rowFloats = width * channels
            for y in 0..<(height / 2) {
                let a = image + y * rowFloats, b = image + (height - 1 - y) * rowFloats
                for i in 0..<rowFloats { swap(&a[i], &b[i]) }
            }
        }
    }
}
