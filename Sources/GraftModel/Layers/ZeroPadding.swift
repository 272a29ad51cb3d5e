import GraftFoundation
import GraftKernels

/// ZeroPadding2D. In inference, read only by convolutions and max pooling,
/// it becomes the padding of their windows instead of a copy; in training it
/// is written once per image (border zeroed, middle copied).
extension PlanCompiler {
    mutating func compileZeroPadding(_ i: Int) {
        let layers = network.layers, layer = layers[i]
        guard case let .zeroPadding2D(top, bottom, left, right) = layer.kind else { preconditionFailure("\(layer.name) is not ZeroPadding2D") }
        let pads = Pads(top: top, bottom: bottom, left: left, right: right)
        let windowed = consumers[i].allSatisfy {
            switch layers[$0].kind { case .conv2D, .maxPooling2D: true; default: false }
        }
        if windowed && !consumers[i].isEmpty && i != layers.count - 1 {
            deferredPads[i] = pads
            return
        }
        let s = shape(layer.inputs[0])
        emit(i, reading: [layer.inputs[0]]) { r, w in
            .zeroPad(height: s[0], width: s[1], channels: s[2], pads: pads, input: r[0], output: w)
        }
    }
}

extension TrainingStep {
    func zeroPaddingForward(_ layer: Layer, inputShape s: [Int], batch: Int, x: Tensor, output out: Tensor) {
        guard case let .zeroPadding2D(top, bottom, left, right) = layer.kind else { preconditionFailure("\(layer.name) is not ZeroPadding2D") }
        zeroPad2D(input: x.data, batch: batch, height: s[0], width: s[1], channels: s[2], top: top, bottom: bottom,
                  left: left, right: right, output: out.data, threads: threads)
    }

    /// The middle of the output's gradient (the border's gradient goes nowhere).
    func zeroPaddingBackward(_ layer: Layer, inputShape s: [Int], batch: Int, dY: Tensor, dX: Tensor) {
        guard case let .zeroPadding2D(top, _, left, _) = layer.kind else { preconditionFailure("\(layer.name) is not ZeroPadding2D") }
        let out = layer.outputShape
        zeroPad2DBackward(dOutput: dY.data, batch: batch, height: s[0], width: s[1], channels: s[2], top: top,
                          left: left, outHeight: out[0], outWidth: out[1], dInput: dX.data, threads: threads)
    }
}
