/// A deterministic 64-bit PRNG (SplitMix64). The same seed gives the same stream in every
/// process and on every platform; the harness never uses `SystemRandomNumberGenerator`.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<n` (n > 0). Uses a 128-bit multiply (Lemire) so it never depends on the
    /// standard library's `random(in:)` algorithm.
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }

    public mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + below(r.count) }

    public mutating func u32(_ r: ClosedRange<Int>) -> UInt32 { UInt32(int(r)) }

    /// True with probability `percent`/100.
    public mutating func percent(_ percent: Int) -> Bool { below(100) < percent }

    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    public mutating func pickOptional<T>(_ items: [T]) -> T? { items.isEmpty ? nil : items[below(items.count)] }

    /// An index chosen with the given non-negative weights (at least one positive).
    public mutating func weighted(_ weights: [Int]) -> Int {
        let total = weights.reduce(0) { $0 + max(0, $1) }
        precondition(total > 0)
        var x = below(total)
        for (i, w) in weights.enumerated() where w > 0 {
            if x < w { return i }
            x -= w
        }
        return weights.count - 1
    }

    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, below(i + 1))
        }
    }
}
