// swift-tools-version:6.0
import Foundation
import PackageDescription

// A Swift program on Graft's Swift API, depending on this checkout as any
// package would depend on Graft. SwiftPM names a path dependency after its
// folder, so the identity is read from the path rather than written here.
let graftCheckout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../..").standardizedFileURL
let graftPackage = graftCheckout.lastPathComponent.lowercased()

let package = Package(
    name: "GraftSwiftExample",
    dependencies: [.package(path: graftCheckout.path)],
    targets: [
        .executableTarget(name: "beans", dependencies: [.product(name: "Graft", package: graftPackage)]),
    ],
    swiftLanguageModes: [.v6]
)
