// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "BinderConformance",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "binder-check", targets: ["binder-check"]),
        .executable(name: "DifferentialFuzzer", targets: ["DifferentialFuzzer"]),
        .library(name: "BinderHarness", targets: ["BinderHarness"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        .target(name: "BinderUAPI"),
        .target(name: "BinderModel", dependencies: ["BinderUAPI"]),
        .target(name: "BinderDriver", dependencies: ["BinderUAPI"]),
        .target(name: "BinderHarness", dependencies: ["BinderUAPI", "BinderModel", "BinderDriver"]),
        .target(name: "BinderKernel", dependencies: ["BinderUAPI", "BinderModel", "BinderHarness"]),
        .executableTarget(
            name: "binder-check",
            dependencies: [
                "BinderHarness", "BinderUAPI", "BinderDriver",
                .target(name: "BinderKernel", condition: .when(platforms: [.linux])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "DifferentialFuzzer",
            dependencies: ["BinderHarness"],
            path: "FuzzTargets/DifferentialFuzzer",
            exclude: ["binder.dict"]),
        .target(name: "CBinderHeader", path: "Tests/CBinderHeader"),
        .testTarget(name: "BinderUAPITests", dependencies: ["BinderUAPI", "CBinderHeader"]),
        .testTarget(name: "BinderModelTests", dependencies: ["BinderModel", "BinderUAPI"]),
        .testTarget(name: "BinderDriverTests", dependencies: ["BinderDriver", "BinderUAPI"]),
        .testTarget(name: "BinderKernelTests", dependencies: ["BinderKernel", "BinderHarness", "BinderModel", "BinderUAPI"]),
        .testTarget(
            name: "BinderHarnessTests",
            dependencies: [
                "BinderHarness", "BinderModel", "BinderDriver",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]),
    ],
    swiftLanguageModes: [.v5]
)
