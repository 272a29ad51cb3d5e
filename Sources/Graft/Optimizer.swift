import GraftModel

/// Keras's optimizers with Keras 3's defaults and update formulas. An
/// argument left nil takes Keras's default.
public struct Optimizer {
    let config: OptimizerConfig

    private init(_ name: OptimizerConfig.Name, learningRate: Float?, change: (inout OptimizerConfig) -> Void = { _ in }) {
        var config = OptimizerConfig.defaults(name)
        if let learningRate { config.learningRate = .constant(learningRate) }
        change(&config)
        self.config = config
    }

    /// `keras.optimizers.Adam(learning_rate)`.
    public static func adam(learningRate: Float? = nil) -> Optimizer {
        Optimizer(.adam, learningRate: learningRate)
    }

    /// `keras.optimizers.AdamW(learning_rate, weight_decay)`.
    public static func adamW(learningRate: Float? = nil, weightDecay: Float? = nil) -> Optimizer {
        Optimizer(.adamw, learningRate: learningRate) { config in
            if let weightDecay { config.weightDecay = weightDecay }
        }
    }

    /// `keras.optimizers.SGD(learning_rate, momentum, nesterov)`.
    public static func sgd(learningRate: Float? = nil, momentum: Float? = nil, nesterov: Bool? = nil) -> Optimizer {
        Optimizer(.sgd, learningRate: learningRate) { config in
            if case let .sgd(defaultMomentum, defaultNesterov) = config.algorithm {
                config.algorithm = .sgd(momentum: momentum ?? defaultMomentum, nesterov: nesterov ?? defaultNesterov)
            }
        }
    }

    /// `keras.optimizers.RMSprop(learning_rate, momentum)`.
    public static func rmsprop(learningRate: Float? = nil, momentum: Float? = nil) -> Optimizer {
        Optimizer(.rmsprop, learningRate: learningRate) { config in
            if case let .rmsprop(rho, defaultMomentum, epsilon, centered) = config.algorithm {
                config.algorithm = .rmsprop(rho: rho, momentum: momentum ?? defaultMomentum, epsilon: epsilon,
                                            centered: centered)
            }
        }
    }
}
