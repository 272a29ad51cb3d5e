import CGraftABI
import Glibc

private let versionCString: UnsafePointer<CChar> = UnsafePointer(strdup(GRAFT_VERSION)!)

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
