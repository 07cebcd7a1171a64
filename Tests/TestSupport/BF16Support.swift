import Tensor
import XCTest

/// Skips a test of bf16 products on a CPU (or environment) where they cannot run.
public func requireBF16() throws {
    if let reason = BF16.unavailableReason { throw XCTSkip("bf16 products unavailable: \(reason)") }
}
