import GraftFoundation
import GraftKernels

/// MaxPooling2D and GlobalAveragePooling2D. Max pooling takes the
/// ZeroPadding2D before it as the padding of its window (`compileZeroPadding`).
extension PlanCompiler {
    mutating func compileMaxPooling(_ i: Int) {
        let layer = network.layers[i]
        let (source, pads) = windowSource(layer.inputs[0])
        let g = layer.windowGeometry(input: shape(source), batch: 1, extra: pads)
        emit(i, reading: [source]) { r, w in .maxPool(geometry: g, input: r[0], output: w) }
    }

    mutating func compileGlobalAveragePooling(_ i: Int) {
        let input = network.layers[i].inputs[0], s = shape(input)
        emit(i, reading: [input]) { r, w in
            .globalAveragePool(height: s[0], width: s[1], channels: s[2], input: r[0], output: w)
        }
    }
}

extension TrainingStep {
    func maxPoolingForward(_ layer: Layer, inputShape: [Int], batch: Int, x: Tensor, output out: Tensor) {
        maxPool2D(layer.windowGeometry(input: inputShape, batch: batch), input: x.data, output: out.data,
                  threads: threads)
    }

    /// Each output's gradient to the input where its window's maximum was.
    func maxPoolingBackward(_ layer: Layer, inputShape: [Int], batch: Int, x: Tensor, dY: Tensor, dX: Tensor) {
        maxPool2DBackward(layer.windowGeometry(input: inputShape, batch: batch), input: x.data, dOutput: dY.data,
                          dInput: dX.data, threads: threads)
    }

    func globalAveragePoolingForward(inputShape s: [Int], batch: Int, x: Tensor, output out: Tensor) {
        globalAveragePool(input: x.data, batch: batch, height: s[0], width: s[1], channels: s[2], output: out.data)
    }

    func globalAveragePoolingBackward(inputShape s: [Int], batch: Int, dY: Tensor, dX: Tensor) {
        globalAveragePoolBackward(dOutput: dY.data, batch: batch, height: s[0], width: s[1], channels: s[2],
                                  dInput: dX.data)
    }
}
