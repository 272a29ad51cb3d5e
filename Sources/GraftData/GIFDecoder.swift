import GraftFoundation
import GraftKernels

/// The first frame of a GIF, as TensorFlow's decode_image(expand_animations=
/// False) gives it (TF 2.21 with its giflib, checked against it):
///
/// - TF reads every frame (giflib's DGifSlurp). The output's size is NOT the
///   logical screen's: it is the largest frame width by the largest frame
///   height over all frames read.
/// - Only frame 0 is drawn, on black (0, 0, 0): its pixel at frame position
///   (r, c) lands at (top + r, left + c); whatever falls outside the output is
///   cut off. Pixels with the frame's transparent index (the first Graphic
///   Control Extension before it, if its block is 4 bytes long) stay black.
/// - Colours come from the frame's local colour table, else the global one.
///   Having neither is an error, and so is an index past the table's size
///   (unless it is the transparent index) among the pixels drawn. Frames
///   after frame 0 are not checked for either.
/// - Interlaced frames are de-interlaced.
/// - A frame whose data is broken (truncated, a zero-length sub-block or an
///   end-of-information code before all its pixels, an LZW chain through an
///   undefined code, a code size over 8, zero width or height) ends the
///   reading: it and any frame after it do not count. If that happens to
///   frame 0 the GIF is refused; after it, TF returns frame 0 as usual. A
///   missing trailer or bytes other than a block after the last frame are not
///   errors. Some broken streams decode (to giflib's pixels): see LZWTable.
/// - Above 2^29 output pixels the GIF is refused (TF would try to allocate).
///   A frame of more than 2^31 − 1 pixels is broken (giflib cannot allocate it).
/// - Graft's pixel limit applies to the output's size and to the pixels of
///   all frames together (TF decodes and holds every frame), and is checked
///   on each frame's declared size before its data is decoded: a GIF past it
///   is refused even where the frame that passes it would turn out broken
///   (TF would then return frame 0). The work and memory of a GIF are so
///   bounded by the limit, whatever its frames claim.
///
/// The LZW decoder is written here, reproducing giflib 5.2.1's results
/// (checked on the fixtures and on a few thousand damaged GIFs).
enum GIFDecoder {
    /// Why a frame could not be read.
    enum FrameError: Error {
        case truncated(String)
        case corrupt(String)

        var text: String {
            switch self {
            case .truncated(let what): return "truncated GIF (\(what))"
            case .corrupt(let what): return "corrupt GIF (\(what))"
            }
        }
    }

    static func decode(_ input: ImageBytes, name: String, limit: PixelLimit) throws -> DecodedImage {
        // Header and logical screen descriptor (giflib's DGifOpen).
        guard input.count >= 13, let flags = input.byte(10) else {
            throw GraftError.format("\(name): truncated GIF (no logical screen descriptor)")
        }
        var position = 13
        var globalTable: (offset: Int, count: Int)?
        if flags & 0x80 != 0 {
            let count = 1 << (Int(flags & 7) + 1)
            guard position + 3 * count <= input.count else {
                throw GraftError.format("\(name): truncated GIF (global color table)")
            }
            globalTable = (position, count)
            position += 3 * count
        }

        // Every block, as DGifSlurp reads them; frame 0 is decoded in full,
        // the others only checked (their sizes set the output's size).
        var frameCount = 0
        var maxWidth = 0, maxHeight = 0
        var framePixels = 0                  // of every frame read so far
        var first: (left: Int, top: Int, width: Int, height: Int, table: (offset: Int, count: Int)?)?
        var firstIndices: [UInt8] = []
        var transparent: Int? = nil          // frame 0's transparent index
        var graphicControl: Int?? = nil      // the first GCE since the last frame: .some(index or nil)
        var failure: FrameError?
        var scratch = LZWTable()

        records: while position < input.count {
            let introducer = input.bytes[position]
            position += 1
            switch introducer {
            case 0x2C:  // image descriptor
                guard position + 9 <= input.count, let left = input.uint16LE(position),
                      let top = input.uint16LE(position + 2), let width = input.uint16LE(position + 4),
                      let height = input.uint16LE(position + 6), let frameFlags = input.byte(position + 8) else {
                    failure = .truncated("image descriptor of frame \(frameCount)")
                    break records
                }
                position += 9
                var table = globalTable
                if frameFlags & 0x80 != 0 {
                    let count = 1 << (Int(frameFlags & 7) + 1)
                    guard position + 3 * count <= input.count else {
                        failure = .truncated("color table of frame \(frameCount)")
                        break records
                    }
                    table = (position, count)
                    position += 3 * count
                }
                guard let codeSize = input.byte(position) else {
                    failure = .truncated("image data of frame \(frameCount)")
                    break records
                }
                position += 1
                guard codeSize <= 8 else {
                    failure = .corrupt("LZW code size \(codeSize) in frame \(frameCount)")
                    break records
                }
                guard width > 0, height > 0 else {
                    failure = .corrupt("frame \(frameCount) is \(width)x\(height)")
                    break records
                }
                guard width <= Int(Int32.max) / height else {
                    failure = .corrupt("frame \(frameCount) is \(width)x\(height), more pixels than giflib allocates")
                    break records
                }
                // The pixel limit, before the frame's data is decoded.
                try limit.check(width: max(maxWidth, width), height: max(maxHeight, height), "GIF")
                framePixels += width * height
                guard framePixels <= limit.pixels else {
                    throw GraftError.format(
                        "\(name): GIF whose frames hold more than the pixel limit of \(limit.pixels) pixels in all")
                }
                let isFirst = frameCount == 0
                if isFirst {
                    guard width * height < 1 << 29 else {
                        failure = .corrupt("frame 0 is too large: \(width)x\(height)")
                        break records
                    }
                    firstIndices = [UInt8](repeating: 0, count: width * height)
                }
                do {
                    position = try firstIndices.withUnsafeMutableBufferPointer { buffer in
                        try scratch.decode(input, from: position, codeSize: Int(codeSize), pixels: width * height,
                                           into: isFirst ? buffer.baseAddress : nil, frame: frameCount)
                    }
                } catch let error as FrameError {
                    failure = error
                    break records
                }
                if isFirst {
                    if frameFlags & 0x40 != 0 { firstIndices = deinterlace(firstIndices, width: width, height: height) }
                    first = (left, top, width, height, table)
                    transparent = graphicControl ?? nil
                }
                graphicControl = nil
                frameCount += 1
                maxWidth = max(maxWidth, width)
                maxHeight = max(maxHeight, height)
            case 0x21:  // extension: a label, then data sub-blocks
                guard let label = input.byte(position) else { break records }
                position += 1
                var firstBlock = true
                while true {
                    guard let size = input.byte(position) else { break records }
                    position += 1
                    if size == 0 { break }
                    guard position + Int(size) <= input.count else { break records }
                    if firstBlock, label == 0xF9, graphicControl == nil {
                        // giflib reads a GCE only if its block is 4 bytes long.
                        if size == 4, let packed = input.byte(position), let index = input.byte(position + 3) {
                            graphicControl = .some(packed & 1 != 0 ? Int(index) : nil)
                        } else {
                            graphicControl = .some(nil)
                        }
                    }
                    firstBlock = false
                    position += Int(size)
                }
            case 0x3B:  // trailer
                break records
            default:    // not a block: giflib stops here, with the frames read so far
                break records
            }
        }

        guard let frame = first else {
            throw GraftError.format("\(name): " + (failure?.text ?? "GIF without any image"))
        }
        guard let table = frame.table else {
            throw GraftError.format("\(name): GIF frame 0 has no color table (neither local nor global)")
        }
        guard maxWidth * maxHeight < 1 << 29 else {
            throw GraftError.format("\(name): GIF too large (\(maxWidth)x\(maxHeight))")
        }

        // Frame 0 on black, cut to the output.
        let bottom = min(frame.top + frame.height, maxHeight), right = min(frame.left + frame.width, maxWidth)
        var badIndex: Int? = nil
        let image = firstIndices.withUnsafeBufferPointer { indices in
            DecodedImage.filled(width: maxWidth, height: maxHeight) { rgb in
                guard let indices = indices.baseAddress else { return }
                let colors = input.bytes + table.offset
                var y = frame.top
                while y < bottom {
                    let row = indices + (y - frame.top) * frame.width
                    let out = rgb + y * maxWidth * 3
                    for x in frame.left..<max(right, frame.left) {
                        let index = Int(row[x - frame.left])
                        if index == transparent { continue }
                        guard index < table.count else {
                            badIndex = index
                            return
                        }
                        out[3 * x] = colors[3 * index]
                        out[3 * x + 1] = colors[3 * index + 1]
                        out[3 * x + 2] = colors[3 * index + 2]
                    }
                    y += 1
                }
            }
        }
        if let index = badIndex {
            throw GraftError.format("\(name): corrupt GIF (color index \(index) in frame 0 is outside its color table of \(table.count))")
        }
        return image
    }

    /// Rows stored in GIF interlace order (every 8th from 0, every 8th from 4,
    /// every 4th from 2, every 2nd from 1) put back in order.
    static func deinterlace(_ indices: [UInt8], width: Int, height: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: indices.count)
        var source = 0
        for (start, step) in [(0, 8), (4, 8), (2, 4), (1, 2)] {
            var y = start
            while y < height {
                for x in 0..<width { result[y * width + x] = indices[source + x] }
                source += width
                y += step
            }
        }
        return result
    }

    /// GIF's LZW decoder (variable-width codes of up to 12 bits, deferred
    /// clear), with the behaviour of giflib 5.2.1 (TF's) on broken streams too,
    /// so that a damaged GIF gives TF's pixels or TF's refusal:
    ///
    /// - A code not yet in the table other than the next one is not refused:
    ///   it reads as the previous code's string plus a byte giflib derives from
    ///   the table (often 2: its "no such code" marker, truncated to a byte).
    /// - Following a chain into an undefined code, or a chain of 4095 entries,
    ///   is an error; so is an end-of-information code before the last pixel.
    /// - The table's suffix bytes are kept for the whole file (giflib resets
    ///   only the prefixes, at each frame and clear code): stale entries show
    ///   through in broken streams.
    /// - A data sub-block that the file cuts short is an error as soon as it
    ///   is needed (giflib reads sub-blocks whole).
    struct LZWTable {
        static let noCode = 4098
        private var prefix = [UInt16](repeating: UInt16(noCode), count: 4096)
        private var suffix = [UInt8](repeating: 0, count: 4096)
        private var stack = [UInt8](repeating: 0, count: 4096)

        /// Decodes `pixels` indices of one frame, from the byte after its
        /// code-size byte; writes them to `output` if given. Returns the offset
        /// after the frame's block terminator.
        mutating func decode(_ input: ImageBytes, from start: Int, codeSize: Int, pixels: Int,
                             into output: UnsafeMutablePointer<UInt8>?, frame: Int) throws -> Int {
            let data = input.bytes
            let count = input.count
            let noCode = LZWTable.noCode
            var position = start
            var blockLeft = 0          // bytes left in the current sub-block
            var bitBuffer = 0, bitCount = 0

            let clear = 1 << codeSize, end = clear + 1
            // `running` counts one per code read since the last clear (from
            // end + 1, capped at 4097): running − 2 is the code being defined.
            // The width grows when running passes 2^width.
            var running = end + 1, width = codeSize + 1, limit = 1 << width
            var last = noCode
            var produced = 0

            try prefix.withUnsafeMutableBufferPointer { prefix in
            try suffix.withUnsafeMutableBufferPointer { suffix in
            try stack.withUnsafeMutableBufferPointer { stack in
                for c in 0..<4096 { prefix[c] = UInt16(noCode) }

                /// The first byte of `code`'s string as giflib finds it: follow
                /// prefixes down to a literal (4096 steps at most); noCode if
                /// the chain leaves the table.
                func firstByte(_ code: Int) -> Int {
                    var code = code, steps = 0
                    while code > clear && steps <= 4095 {
                        steps += 1
                        if code > 4095 { return noCode }
                        code = Int(prefix[code])
                    }
                    return code
                }

                while produced < pixels {
                    // The next code, from the data sub-blocks.
                    while bitCount < width {
                        if blockLeft == 0 {
                            guard position < count else { throw FrameError.truncated("image data of frame \(frame)") }
                            blockLeft = Int(data[position])
                            position += 1
                            guard blockLeft > 0 else {
                                throw FrameError.corrupt("image data of frame \(frame) ends before the image is complete")
                            }
                            guard position + blockLeft <= count else {
                                throw FrameError.truncated("image data of frame \(frame)")
                            }
                        }
                        bitBuffer |= Int(data[position]) << bitCount
                        position += 1
                        blockLeft -= 1
                        bitCount += 8
                    }
                    let code = bitBuffer & (1 << width - 1)
                    bitBuffer >>= width
                    bitCount -= width
                    if running < 4097 {
                        running += 1
                        if running > limit && width < 12 {
                            limit <<= 1
                            width += 1
                        }
                    }

                    if code == end {
                        throw FrameError.corrupt("end of image data in frame \(frame) after \(produced) of \(pixels) pixels")
                    }
                    if code == clear {
                        for c in 0..<4096 { prefix[c] = UInt16(noCode) }
                        running = end + 1
                        width = codeSize + 1
                        limit = 1 << width
                        last = noCode
                        continue
                    }
                    let slot = running - 2    // 0 ... 4095
                    if code < clear {
                        output?[produced] = UInt8(truncatingIfNeeded: code)
                        produced += 1
                    } else {
                        // The string, last byte first, on the stack.
                        var depth = 0
                        var link: Int
                        if Int(prefix[code]) == noCode {
                            // The code being defined (or, in a broken stream,
                            // any undefined code): the previous string plus a byte.
                            link = last
                            let byte = UInt8(truncatingIfNeeded: firstByte(code == slot ? last : code))
                            suffix[slot] = byte
                            stack[0] = byte
                            depth = 1
                        } else {
                            link = code
                        }
                        while depth < 4095 && link > clear && link <= 4095 {
                            stack[depth] = suffix[link]
                            depth += 1
                            link = Int(prefix[link])
                        }
                        guard depth < 4095, link <= 4095 else {
                            throw FrameError.corrupt("invalid LZW data in frame \(frame)")
                        }
                        stack[depth] = UInt8(truncatingIfNeeded: link)
                        depth += 1
                        let n = min(depth, pixels - produced)
                        if let output {
                            for k in 0..<n { output[produced + k] = stack[depth - 1 - k] }
                        }
                        produced += n
                    }
                    if last != noCode && Int(prefix[slot]) == noCode {
                        prefix[slot] = UInt16(truncatingIfNeeded: last)
                        suffix[slot] = UInt8(truncatingIfNeeded: firstByte(code == slot ? last : code))
                    }
                    last = code
                }
            }
            }
            }

            // All pixels read: skip the rest of this sub-block and the ones after
            // it, up to the terminator (as giflib does).
            position += blockLeft
            while true {
                guard position < count else { throw FrameError.truncated("image data of frame \(frame)") }
                let size = Int(data[position])
                position += 1
                if size == 0 { return position }
                guard position + size <= count else { throw FrameError.truncated("image data of frame \(frame)") }
                position += size
            }
        }
    }
}
