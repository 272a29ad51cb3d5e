import CGraftABI
import Glibc

let graftVersion = "0.1.0"
private let versionCString: UnsafePointer<CChar> = UnsafePointer(strdup(graftVersion)!)

@_cdecl("graft_version")
public func graft_version() -> UnsafePointer<CChar> {
    versionCString
}

@_cdecl("graft_abi_version")
public func graft_abi_version() -> Int32 {
    GRAFT_ABI_VERSION
}

@_cdecl("graft_last_error")
public func graft_last_error() -> UnsafePointer<CChar> {
    LastError.current
}
