import Glibc
import GraftFoundation
import GraftKernels
import GraftModel

/// The demo's dataset, made here so that `graft demo` needs no download:
/// four classes that differ in shape, not colour — discs, stripes, checks
/// and rings, each in random colours, sizes and positions, with noise — as
/// 24-bit BMP files in class folders, for training and for testing.
enum DemoImages {
    static let classes = ["checks", "discs", "rings", "stripes"]

    /// Writes `root/train/<class>/*.bmp` and `root/test/<class>/*.bmp`. The
    /// same seed gives the same files.
    static func write(to root: String, size: Int, trainPerClass: Int, testPerClass: Int, seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        for (split, count) in [("train", trainPerClass), ("test", testPerClass)] {
            for name in classes {
                let folder = "\(root)/\(split)/\(name)"
                try makeFolders(folder)
                for i in 0..<count {
                    let image = draw(name, size: size, random: &random)
                    try writeBMP(image, size: size, to: "\(folder)/\(name)_\(i).bmp")
                }
            }
        }
    }

    /// An RGB image (size × size × 3 bytes) of class `name`.
    static func draw(_ name: String, size: Int, random: inout SplitMix64) -> [UInt8] {
        let background = random.colour(), foreground = random.colour()
        let s = Double(size)
        let (cx, cy) = (s * random.uniform(0.3, 0.7), s * random.uniform(0.3, 0.7))
        let radius = s * random.uniform(0.18, 0.35)
        let period = s * random.uniform(0.08, 0.2)
        let vertical = random.uniform(0, 1) < 0.5
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            for x in 0..<size {
                let (dx, dy) = (Double(x) - cx, Double(y) - cy)
                let distance = (dx * dx + dy * dy).squareRoot()
                let on: Bool
                switch name {
                case "discs": on = distance < radius
                case "rings": on = Int(distance / (period * 0.7)) % 2 == 0 && distance < radius * 1.6
                case "stripes": on = Int(Double(vertical ? x : y) / period) % 2 == 0
                default: on = (Int(Double(x) / period) + Int(Double(y) / period)) % 2 == 0
                }
                let colour = on ? foreground : background
                for c in 0..<3 {
                    let noisy = Double(colour[c]) + random.uniform(-25, 25)
                    pixels[(y * size + x) * 3 + c] = UInt8(max(0, min(255, noisy)))
                }
            }
        }
        return pixels
    }

    /// A bottom-up 24-bit BMP, rows padded to four bytes, BGR order.
    static func writeBMP(_ rgb: [UInt8], size: Int, to path: String) throws {
        let row = (size * 3 + 3) / 4 * 4
        var bytes: [UInt8] = []
        func le(_ value: Int, _ count: Int) { for i in 0..<count { bytes.append(UInt8((value >> (8 * i)) & 0xFF)) } }
        bytes += [0x42, 0x4D]
        le(54 + row * size, 4); le(0, 4); le(54, 4)                        // file header
        le(40, 4); le(size, 4); le(size, 4); le(1, 2); le(24, 2)           // info header
        le(0, 4); le(row * size, 4); le(2835, 4); le(2835, 4); le(0, 4); le(0, 4)
        for y in stride(from: size - 1, through: 0, by: -1) {
            for x in 0..<size {
                let p = (y * size + x) * 3
                bytes += [rgb[p + 2], rgb[p + 1], rgb[p]]
            }
            bytes += [UInt8](repeating: 0, count: row - size * 3)
        }
        guard let file = fopen(path, "wb") else {
            throw GraftError.io("cannot write \(path): \(systemErrorText(errno))")
        }
        let written = fwrite(bytes, 1, bytes.count, file)
        guard fclose(file) == 0 && written == bytes.count else { throw GraftError.io("cannot write \(path)") }
    }

    /// mkdir -p.
    static func makeFolders(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw GraftError.io("cannot create the folder \(prefix): \(systemErrorText(errno))")
            }
        }
    }
}

extension SplitMix64 {
    /// Uniform in [low, high), from the top 53 bits.
    mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * Double(next() >> 11) / Double(1 << 53)
    }

    mutating func colour() -> [UInt8] { (0..<3).map { _ in UInt8(next() >> 56) } }
}
