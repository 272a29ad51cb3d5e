import CGraftABI
import GraftFoundation
import GraftModel

@_cdecl("graft_distribution_initialize")
public func graft_distribution_initialize(_ timeoutSeconds: Double) -> graft_status {
    catchingErrors {
        guard timeoutSeconds >= 0, timeoutSeconds.isFinite else {
            throw GraftError.invalidArgument("timeout_seconds must be 0 (the default) or a positive number, not \(timeoutSeconds)")
        }
        try ProcessGroup.initialize(timeout: timeoutSeconds == 0 ? nil : timeoutSeconds)
    }
}

@_cdecl("graft_distribution_rank")
public func graft_distribution_rank() -> Int32 {
    Int32(ProcessGroup.current?.rank ?? 0)
}

@_cdecl("graft_distribution_size")
public func graft_distribution_size() -> Int32 {
    Int32(ProcessGroup.current?.size ?? 1)
}

@_cdecl("graft_distribution_barrier")
public func graft_distribution_barrier() -> graft_status {
    catchingErrors { try ProcessGroup.current?.barrier() }
}
