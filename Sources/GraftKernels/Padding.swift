/// Keras's ZeroPadding2D on an NHWC batch: copies `input` into the middle of
/// `output`, which is (batch, top+height+bottom, left+width+right, channels),
/// and zeroes the border.
public func zeroPad2D(input: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                      channels: Int, top: Int, bottom: Int, left: Int, right: Int,
                      output: UnsafeMutablePointer<Float>) {
    let outH = height + top + bottom, outW = width + left + right
    output.update(repeating: 0, count: batch * outH * outW * channels)
    for n in 0..<batch {
        for y in 0..<height {
            let src = input + ((n * height + y) * width) * channels
            let dst = output + ((n * outH + y + top) * outW + left) * channels
            dst.update(from: src, count: width * channels)
        }
    }
}
