import Foundation

@inline(__always) func Foundation_log(_ x: Float) -> Float { Foundation.log(x) }
