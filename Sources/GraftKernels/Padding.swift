/// Keras's ZeroPadding2D on an NHWC batch: copies `input` into the middle of
/// `output`, which is (batch, top+height+bottom, left+width+right, channels),
/// and zeroes the border (each value written once), an image per turn.
public func zeroPad2D(input: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                      channels: Int, top: Int, bottom: Int, left: Int, right: Int,
                      output: UnsafeMutablePointer<Float>, threads: Int) {
    let outH = height + top + bottom, rowFloats = (width + left + right) * channels
    Parallel.forEach(batch, threads: threads) { n, _ in
        let image = output + n * outH * rowFloats
        image.update(repeating: 0, count: top * rowFloats)
        for y in 0..<height {
            let row = image + (top + y) * rowFloats
            row.update(repeating: 0, count: left * channels)
            (row + left * channels).update(from: input + (n * height + y) * width * channels, count: width * channels)
            (row + (left + width) * channels).update(repeating: 0, count: right * channels)
        }
        (image + (top + height) * rowFloats).update(repeating: 0, count: bottom * rowFloats)
    }
}
