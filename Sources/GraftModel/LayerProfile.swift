import Dispatch

/// Wall-clock time spent in each layer, summed over every pass that runs
/// while the profile is attached (`Model.profile`, `TransferModel.profile`):
/// how a benchmark tells where the time goes.
///
/// A compiled inference pass fuses layers, and times the fused operation
/// under its first layer's name (a convolution, with the BatchNormalization,
/// Add and ReLU folded into it). Not thread-safe: attach it to one model.
public final class LayerProfile {
    public enum Phase: CaseIterable, Sendable {
        case forward, backward
        /// The optimizer's update of a layer's weights.
        case optimizer
    }

    /// Layer names in the order they were first timed.
    public private(set) var layers: [String] = []
    private var totals: [String: [Phase: Double]] = [:]

    public init() {}

    /// Seconds spent in `layer` in `phase` so far.
    public func seconds(_ layer: String, _ phase: Phase) -> Double {
        totals[layer]?[phase] ?? 0
    }

    /// Runs `body`, adding its wall-clock time to `layer` in `phase`.
    func measure<T>(_ layer: String, _ phase: Phase, _ body: () throws -> T) rethrows -> T {
        let started = DispatchTime.now().uptimeNanoseconds
        defer {
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            if totals[layer] == nil { layers.append(layer) }
            totals[layer, default: [:]][phase, default: 0] += elapsed
        }
        return try body()
    }
}

extension Optional where Wrapped == LayerProfile {
    /// `body`, timed when there is a profile.
    func measure<T>(_ layer: String, _ phase: LayerProfile.Phase, _ body: () throws -> T) rethrows -> T {
        guard let profile = self else { return try body() }
        return try profile.measure(layer, phase, body)
    }
}
