import GraftData
import GraftFoundation

/// Graft's layers as Keras 3's layer configs: `kerasArguments` writes a
/// layer's arguments (Keras's defaults fill the rest when Keras reads
/// them), `init(kerasClassName:config:)` reads them back, refusing any
/// argument that would make Keras compute something else.
extension LayerKind {
    /// The layer's arguments as Keras's config members, after name,
    /// trainable and dtype.
    var kerasArguments: [JSON.Member] {
        func pair(_ a: Int, _ b: Int) -> JSON { .array([.integer(Int64(a)), .integer(Int64(b))]) }
        let channelsLast = JSON.Member("data_format", .string("channels_last"))
        switch self {
        case .input:
            return []
        case .zeroPadding2D(let top, let bottom, let left, let right):
            return [JSON.Member("padding", .array([pair(top, bottom), pair(left, right)])), channelsLast]
        case .conv2D(let filters, let kernel, let strides, let padding):
            return [JSON.Member("filters", .integer(Int64(filters))), JSON.Member("kernel_size", pair(kernel.h, kernel.w)),
                    JSON.Member("strides", pair(strides.h, strides.w)),
                    JSON.Member("padding", .string(padding == .same ? "same" : "valid")), channelsLast,
                    JSON.Member("dilation_rate", pair(1, 1)), JSON.Member("groups", .integer(1)),
                    JSON.Member("activation", .string("linear")), JSON.Member("use_bias", .bool(true))]
        case .batchNormalization(let epsilon):
            return [JSON.Member("axis", .integer(-1)), JSON.Member("momentum", .number(0.99)),
                    JSON.Member("epsilon", .number(Double(epsilon))), JSON.Member("center", .bool(true)),
                    JSON.Member("scale", .bool(true))]
        case .relu:
            return [JSON.Member("activation", .string("relu"))]
        case .maxPooling2D(let pool, let strides):
            return [JSON.Member("pool_size", pair(pool.h, pool.w)), JSON.Member("padding", .string("valid")),
                    JSON.Member("strides", pair(strides.h, strides.w)), channelsLast]
        case .add:
            return []
        case .globalAveragePooling2D:
            return [channelsLast, JSON.Member("keepdims", .bool(false))]
        case .flatten:
            return [channelsLast]
        case .dense(let units):
            return [JSON.Member("units", .integer(Int64(units))), JSON.Member("activation", .string("linear")),
                    JSON.Member("use_bias", .bool(true))]
        case .dropout(let rate):
            return [JSON.Member("rate", .number(Double(rate))), JSON.Member("seed", .null), JSON.Member("noise_shape", .null)]
        }
    }

    /// The layer a Keras config describes, or nil for a class Graft does not
    /// have as a layer. A Dense or Conv2D with an activation other than
    /// linear, and every argument that changes what the layer computes from
    /// what Graft computes, throws `GraftError.format` naming the layer.
    /// `fusedActivation` receives a Dense's own activation: "relu" (Graft
    /// adds it as an Activation layer), or "softmax" or "sigmoid" (the
    /// output's, `HeadOptions.outputActivation`).
    init?(kerasClassName className: String, config: JSON, fusedActivation: inout String?) throws {
        let args = KerasArguments(className: className, config: config)
        func pair(_ key: String, default value: (Int, Int)? = nil) throws -> (Int, Int) {
            guard let member = config[key], !member.isNull else {
                guard let value else { throw args.malformed(key) }
                return value
            }
            if let n = member.integerValue { return (n, n) }
            guard let list = member.arrayValue, list.count == 2, let a = list[0].integerValue, let b = list[1].integerValue else {
                throw args.malformed(key)
            }
            return (a, b)
        }
        func require(_ key: String, _ accepted: (JSON) -> Bool, _ meaning: String) throws {
            if let member = config[key], !accepted(member) { throw args.unsupported("\(key)=\(member.text) (\(meaning))") }
        }
        func channelsLast() throws {
            try require("data_format", { $0.isNull || $0.stringValue == "channels_last" }, "Graft takes channels_last")
        }
        func padding() throws -> Padding {
            switch config["padding"]?.stringValue ?? "valid" {
            case "valid": return .valid
            case "same": return .same
            case let other: throw args.unsupported("padding=\(other)")
            }
        }
        func noRegularizers() throws {
            for key in ["kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint",
                        "quantization_config", "lora_rank"] {
                try require(key, { $0.isNull || $0 == .integer(0) }, "Graft has none")
            }
        }
        switch className {
        case "InputLayer":
            self = .input
        case "ZeroPadding2D":
            try channelsLast()
            guard let rows = config["padding"]?.arrayValue, rows.count == 2 else { throw args.malformed("padding") }
            func side(_ value: JSON) throws -> (Int, Int) {
                if let n = value.integerValue { return (n, n) }
                guard let list = value.arrayValue, list.count == 2, let a = list[0].integerValue, let b = list[1].integerValue
                else { throw args.malformed("padding") }
                return (a, b)
            }
            let (top, bottom) = try side(rows[0]), (left, right) = try side(rows[1])
            self = .zeroPadding2D(top: top, bottom: bottom, left: left, right: right)
        case "Conv2D":
            try channelsLast()
            try noRegularizers()
            try require("dilation_rate", { $0 == .integer(1) || $0 == .array([.integer(1), .integer(1)]) }, "Graft has no dilation")
            try require("groups", { $0 == .integer(1) }, "Graft has no grouped convolution")
            try require("activation", { $0.stringValue == "linear" || $0.isNull }, "Graft's Conv2D has none")
            try require("use_bias", { $0 == .bool(true) }, "Graft's Conv2D has a bias")
            guard let filters = config["filters"]?.integerValue else { throw args.malformed("filters") }
            self = .conv2D(filters: filters, kernel: try pair("kernel_size"), strides: try pair("strides", default: (1, 1)),
                           padding: try padding())
        case "BatchNormalization":
            try require("axis", { $0 == .integer(-1) || $0 == .integer(3) || $0 == .array([.integer(3)]) }, "Graft normalises channels")
            try require("center", { $0 == .bool(true) }, "Graft's has beta")
            try require("scale", { $0 == .bool(true) }, "Graft's has gamma")
            self = .batchNormalization(epsilon: Float(config["epsilon"]?.doubleValue ?? 1e-3))
        case "Activation", "ReLU":
            let activation = className == "ReLU" ? "relu" : config["activation"]?.stringValue
            guard activation == "relu" else { throw args.unsupported("activation \(config["activation"]?.text ?? "?") (Graft's is relu)") }
            if className == "ReLU" {
                for key in ["max_value", "negative_slope", "threshold"] {
                    try require(key, { $0.isNull || $0.doubleValue == 0 }, "Graft's ReLU is plain")
                }
            }
            self = .relu
        case "MaxPooling2D":
            try channelsLast()
            guard try padding() == .valid else { throw args.unsupported("padding=same") }
            let pool = try pair("pool_size", default: (2, 2))
            self = .maxPooling2D(pool: pool, strides: try pair("strides", default: pool))
        case "Add":
            self = .add
        case "GlobalAveragePooling2D":
            try channelsLast()
            try require("keepdims", { $0 == .bool(false) }, "Graft's pools to a vector")
            self = .globalAveragePooling2D
        case "Flatten":
            try channelsLast()
            self = .flatten
        case "Dense":
            try noRegularizers()
            try require("use_bias", { $0 == .bool(true) }, "Graft's Dense has a bias")
            let activation = config["activation"]?.stringValue ?? "linear"
            guard ["linear", "relu", "softmax", "sigmoid"].contains(activation) else {
                throw args.unsupported("activation \(activation) (Graft's Dense layers have ReLU, hidden, or on the output none, softmax or sigmoid)")
            }
            fusedActivation = activation == "linear" ? nil : activation
            guard let units = config["units"]?.integerValue else { throw args.malformed("units") }
            self = .dense(units: units)
        case "Dropout":
            try require("noise_shape", { $0.isNull }, "Graft drops values independently")
            guard let rate = config["rate"]?.doubleValue else { throw args.malformed("rate") }
            self = .dropout(rate: Float(rate))
        default:
            return nil
        }
    }
}
