/// A value of a `torch.save` pickle, built by `TorchPickle` without running anything: a class
/// or function the pickle names is kept as its name, and a call of one is kept as the name with
/// its arguments, except for the few calls that rebuild containers and tensors.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    /// A call of `callable` (or an instance of a class) that is not rebuilt; `state` from BUILD.
    case object(PickleObject)
    /// A tensor storage named by the file (the archive's `data/<key>`, or a key of the legacy
    /// format's storage list): `count` elements of `storageType`.
    case storage(type: String, key: String, count: Int)
    case tensor(TorchTensorRef)
}

final class PickleList { var items: [PickleValue] = [] }

/// Keys in insertion order, as Python's dicts keep them.
final class PickleDict {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var stringIndex: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let s) = key, let i = stringIndex[s] { values[i] = value; return }
        if case .string(let s) = key { stringIndex[s] = keys.count }
        keys.append(key)
        values.append(value)
    }

    subscript(string key: String) -> PickleValue? { stringIndex[key].map { values[$0] } }
}

final class PickleObject {
    let callable: PickleValue
    let arguments: [PickleValue]
    var state: PickleValue?
    init(_ callable: PickleValue, _ arguments: [PickleValue]) {
        self.callable = callable
        self.arguments = arguments
    }
}

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`: a view of a storage.
struct TorchTensorRef {
    var storageType: String
    var storageKey: String
    var storageCount: Int
    var offset: Int
    var shape: [Int]
    var strides: [Int]
}

/// Reads a pickle of `torch.save` (an archive's `data.pkl`, or one of the legacy format's
/// pickles; protocols 2–5) into `PickleValue`s. Nothing the pickle names is imported or called:
/// containers (`collections.OrderedDict`), tensors (`torch._utils._rebuild_tensor_v2`,
/// `_rebuild_tensor`, `_rebuild_parameter`) and storages (persistent ids `('storage',
/// torch.<T>Storage, key, location, count)`, in the legacy format with a sixth element, a storage
/// view or None) are rebuilt; any other call stays an opaque `.object`. A malformed or truncated
/// pickle is an error.
struct TorchPickle {
    /// The first reference to each storage the pickle makes: PyTorch sizes a storage by it.
    struct Storage {
        var type: String
        var count: Int
    }

    struct Parsed {
        var value: PickleValue
        /// Where the pickle's STOP ends: the next pickle or data of a legacy file starts there.
        var end: Int
        var storages: [String: Storage]
    }

    /// `parse` ran out of bytes it was told are only the start of the file.
    struct Incomplete: Error {}

    private let bytes: [UInt8]
    private let path: String
    private let label: String
    private let complete: Bool
    private var at: Int
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var storages: [String: Storage] = [:]

    static func load(_ bytes: [UInt8], path: String) throws -> PickleValue {
        try parse(bytes, from: 0, label: "data.pkl", path: path).value
    }

    /// The pickle that starts at `start` of `bytes`; errors name it `label`, at byte offsets of
    /// `bytes`. When `complete` is false, `bytes` is only the start of a file and running out of
    /// them throws `Incomplete` instead of a truncation error, so the caller can read more.
    static func parse(_ bytes: [UInt8], from start: Int, label: String, path: String, complete: Bool = true) throws -> Parsed {
        var p = TorchPickle(bytes: bytes, path: path, label: label, complete: complete, at: start)
        let value = try p.run()
        return Parsed(value: value, end: p.at, storages: p.storages)
    }

    private init(bytes: [UInt8], path: String, label: String, complete: Bool, at: Int) {
        self.bytes = bytes
        self.path = path
        self.label = label
        self.complete = complete
        self.at = at
    }

    private func fail(_ what: String) -> TensorFileError {
        TensorFileError(path, "\(label): \(what) at byte \(at)")
    }

    /// The end of the bytes: in a whole pickle, a truncation.
    private func short(_ what: String) -> Error { complete ? fail(what) : Incomplete() }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0 else { throw fail("negative length \(n)") }
        guard n <= bytes.count - at else { throw short("truncated pickle (wants \(n) more bytes)") }
        defer { at += n }
        return bytes[at..<(at + n)]
    }

    private mutating func unsigned(_ n: Int) throws -> UInt64 {
        try take(n).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func length(_ n: Int) throws -> Int {
        let v = try unsigned(n)
        guard v <= UInt64(bytes.count - at) else { throw short("length \(v) runs past the end of the pickle") }
        return Int(v)
    }

    private mutating func line() throws -> String {
        guard let end = bytes[at...].firstIndex(of: 0x0A) else { throw short("unterminated line") }
        defer { at = end + 1 }
        return String(decoding: bytes[at..<end], as: UTF8.self)
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("pickle stack underflow") }
        if let m = marks.last, stack.count < m { throw fail("pickle pops past a mark") }
        return v
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no mark to pop to") }
        defer { stack.removeSubrange(m...) }
        return Array(stack[m...])
    }

    private mutating func top() throws -> PickleValue {
        guard let v = stack.last else { throw fail("pickle stack underflow") }
        return v
    }

    private mutating func run() throws -> PickleValue {
        while true {
            let opcode = try take(1).first ?? 0
            switch opcode {
            case 0x80: // PROTO
                let v = try take(1).first ?? 0
                guard v <= 5 else { throw fail("pickle protocol \(v) (at most 5 is known)") }
            case 0x95: _ = try take(8) // FRAME: the length of the next frame, not needed here
            case 0x2E: return try pop() // STOP
            case 0x28: marks.append(stack.count) // MARK
            case 0x7D: stack.append(.dict(PickleDict())) // EMPTY_DICT
            case 0x5D: stack.append(.list(PickleList())) // EMPTY_LIST
            case 0x29: stack.append(.tuple([])) // EMPTY_TUPLE
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4B: stack.append(.int(Int(try unsigned(1)))) // BININT1
            case 0x4D: stack.append(.int(Int(try unsigned(2)))) // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try unsigned(4))))) // BININT
            case 0x8A: // LONG1: little-endian two's complement
                let n = try length(1)
                guard n <= 8 else { throw fail("integer of \(n) bytes") }
                let raw = try unsigned(n)
                let shift = UInt64(64 - 8 * n)
                stack.append(.int(n == 0 ? 0 : Int(Int64(bitPattern: raw << shift) >> Int64(shift))))
            case 0x47: // BINFLOAT, big-endian
                let raw = try take(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                stack.append(.float(Double(bitPattern: raw)))
            case 0x58: stack.append(.string(String(decoding: try take(try length(4)), as: UTF8.self))) // BINUNICODE
            case 0x8C: stack.append(.string(String(decoding: try take(try length(1)), as: UTF8.self))) // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(String(decoding: try take(try length(8)), as: UTF8.self))) // BINUNICODE8
            case 0x54: stack.append(.string(String(try take(try length(4)).map { Character(Unicode.Scalar($0)) }))) // BINSTRING
            case 0x55: stack.append(.string(String(try take(try length(1)).map { Character(Unicode.Scalar($0)) }))) // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try take(try length(4))))) // BINBYTES
            case 0x43: stack.append(.bytes(Array(try take(try length(1))))) // SHORT_BINBYTES
            case 0x71: memo[Int(try unsigned(1))] = try top() // BINPUT
            case 0x72: memo[Int(try unsigned(4))] = try top() // LONG_BINPUT
            case 0x94: memo[memo.count] = try top() // MEMOIZE
            case 0x68, 0x6A: // BINGET, LONG_BINGET
                let i = Int(try unsigned(opcode == 0x68 ? 1 : 4))
                guard let v = memo[i] else { throw fail("memo entry \(i) used before it was stored") }
                stack.append(v)
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                stack.append(.global(module: module, name: name))
            case 0x93: // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else { throw fail("STACK_GLOBAL without two names") }
                stack.append(.global(module: module, name: name))
            case 0x74: stack.append(.tuple(try popToMark())) // TUPLE
            case 0x85: stack.append(.tuple([try pop()])) // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b])) // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c])) // TUPLE3
            case 0x6C: let l = PickleList(); l.items = try popToMark(); stack.append(.list(l)) // LIST
            case 0x61: // APPEND
                let v = try pop()
                guard case .list(let l) = try top() else { throw fail("APPEND to something that is not a list") }
                l.items.append(v)
            case 0x65: // APPENDS
                let vs = try popToMark()
                guard case .list(let l) = try top() else { throw fail("APPENDS to something that is not a list") }
                l.items += vs
            case 0x64: // DICT
                let kv = try popToMark()
                let d = PickleDict()
                try setItems(d, kv)
                stack.append(.dict(d))
            case 0x73: // SETITEM
                let v = try pop(), k = try pop()
                guard case .dict(let d) = try top() else { throw fail("SETITEM on something that is not a dict") }
                d.set(k, v)
            case 0x75: // SETITEMS
                let kv = try popToMark()
                guard case .dict(let d) = try top() else { throw fail("SETITEMS on something that is not a dict") }
                try setItems(d, kv)
            case 0x52: // REDUCE
                guard case .tuple(let args) = try pop() else { throw fail("REDUCE without an argument tuple") }
                stack.append(try call(try pop(), args))
            case 0x81: // NEWOBJ
                guard case .tuple(let args) = try pop() else { throw fail("NEWOBJ without an argument tuple") }
                stack.append(try call(try pop(), args))
            case 0x92: // NEWOBJ_EX
                _ = try pop()
                guard case .tuple(let args) = try pop() else { throw fail("NEWOBJ_EX without an argument tuple") }
                stack.append(try call(try pop(), args))
            case 0x62: // BUILD: an object's state; an OrderedDict's (a state dict's _metadata) is not needed
                let state = try pop()
                if case .object(let o) = try top() { o.state = state }
            case 0x51: // BINPERSID
                stack.append(try persistent(try pop()))
            default:
                throw fail(String(format: "pickle opcode 0x%02X, which torch.save does not write", opcode))
            }
        }
    }

    private func setItems(_ d: PickleDict, _ kv: [PickleValue]) throws {
        guard kv.count % 2 == 0 else { throw fail("odd number of dict items") }
        for i in stride(from: 0, to: kv.count, by: 2) { d.set(kv[i], kv[i + 1]) }
    }

    private mutating func persistent(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let t) = pid, t.count == 5 || t.count == 6, case .string("storage") = t[0], case .global(_, let type) = t[1],
              case .string(let key) = t[2], case .int(let count) = t[4], count >= 0 else {
            throw fail("a persistent id that is not a torch storage")
        }
        // Only old PyTorch, whose storages could be ranges of others, wrote a view here; later
        // versions always write None, and no file to test a reading of one against is at hand.
        if t.count == 6 {
            guard case .none = t[5] else { throw fail("storage \(key) is saved as a view of another storage (very old torch), which is not read: load and save it again with a newer torch") }
        }
        if storages[key] == nil { storages[key] = Storage(type: type, count: count) }
        return .storage(type: type, key: key, count: count)
    }

    private func call(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
        guard case .global(let module, let name) = callable else { return .object(PickleObject(callable, args)) }
        switch (module, name) {
        case ("collections", "OrderedDict") where args.isEmpty:
            return .dict(PickleDict())
        case ("collections", "OrderedDict") where args.count == 1:
            // Python 2 (legacy files of torch before 1.5) pickles an OrderedDict as a call with
            // its items, a list of [key, value] lists.
            guard case .list(let items) = args[0] else { return .object(PickleObject(callable, args)) }
            let d = PickleDict()
            for item in items.items {
                switch item {
                case .list(let pair) where pair.items.count == 2: d.set(pair.items[0], pair.items[1])
                case .tuple(let pair) where pair.count == 2: d.set(pair[0], pair[1])
                default: throw fail("an OrderedDict item that is not a (key, value) pair")
                }
            }
            return .dict(d)
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard args.count >= 4, case .storage(let type, let key, let count) = args[0], case .int(let offset) = args[1],
                  case .tuple(let size) = args[2], case .tuple(let stride) = args[3] else {
                throw fail("\(name) with arguments that are not (storage, offset, size, stride)")
            }
            let shape = size.compactMap { v -> Int? in if case .int(let i) = v { return i } else { return nil } }
            let strides = stride.compactMap { v -> Int? in if case .int(let i) = v { return i } else { return nil } }
            guard shape.count == size.count, strides.count == shape.count, offset >= 0, shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("a tensor with a malformed size \(shape) or stride \(strides)")
            }
            return .tensor(TorchTensorRef(storageType: type, storageKey: key, storageCount: count, offset: offset, shape: shape, strides: strides))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let first = args.first, case .tensor = first else { throw fail("\(name) without a tensor") }
            return first
        default:
            return .object(PickleObject(callable, args))
        }
    }
}
