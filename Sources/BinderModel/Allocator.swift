import BinderUAPI

/// A block of the mapping (`struct binder_buffer`): free or allocated. Its size is implicit.
final class Buffer {
    var start: UInt64
    var free = true
    var allowUserFree = false
    var asyncTransaction = false
    var onewaySpamSuspect = false
    var clearOnFree = false
    var dataSize: UInt64 = 0
    var offsetsSize: UInt64 = 0
    var extraBuffersSize: UInt64 = 0
    /// Sender tgid of the last allocation that used this descriptor (0 for a new descriptor).
    var pid: Int32 = 0
    var targetNode: Node?
    var transaction: Transaction?
    var rbNode: RBNode<Buffer>?
    init(start: UInt64) { self.start = start }
}

/// Result of `binder_alloc_new_buf`.
enum AllocResult { case success(Buffer); case failure(Errno) }

/// `struct binder_alloc`: blocks tiling the mapping, a size-keyed free tree, the mapping bytes.
final class Allocator {
    var bufferSize: UInt64 = 0
    /// `binder_alloc_get_vma() != NULL`.
    var mapped = false
    var freeAsyncSpace: UInt64 = 0
    var onewaySpamDetected = false
    /// Address-ordered blocks (`alloc->buffers`).
    var blocks: [Buffer] = []
    let freeTree = RedBlackTree<Buffer>()
    /// Contents of the mapping as the driver wrote them.
    var mem: [UInt8] = []

    /// Mirrors `binder_alloc_buffer_size`.
    func size(of b: Buffer) -> UInt64 {
        guard let i = blocks.firstIndex(where: { $0 === b }) else { return 0 }
        return i + 1 < blocks.count ? blocks[i + 1].start - b.start : bufferSize - b.start
    }

    /// Mirrors `binder_alloc_mmap_handler` (after the binder_mmap checks).
    func mmap(length: UInt64) -> Int32 {
        if bufferSize != 0 { return Errno.EBUSY.negated }
        bufferSize = min(length, MmapRules.maxBufferSize)
        mem = [UInt8](repeating: 0, count: Int(bufferSize))
        let b = Buffer(start: 0)
        blocks = [b]
        insertFree(b)
        freeAsyncSpace = bufferSize / 2
        mapped = true
        return 0
    }

    private func insertFree(_ b: Buffer) { b.rbNode = freeTree.insert(key: size(of: b), value: b) }
    private func eraseFree(_ b: Buffer) { if let n = b.rbNode { freeTree.erase(n); b.rbNode = nil } }

    /// Mirrors `sanitized_size`: 0 on overflow.
    static func sanitizedSize(_ data: UInt64, _ offsets: UInt64, _ extra: UInt64) -> UInt64 {
        let a8 = { (x: UInt64) -> UInt64 in (x &+ 7) & ~7 }
        let tmp = a8(data) &+ a8(offsets)
        if tmp < data || tmp < offsets { return 0 }
        let total = tmp &+ a8(extra)
        if total < tmp || total < extra { return 0 }
        return max(total, 8)
    }

    /// Mirrors `binder_alloc_new_buf` / `binder_alloc_new_buf_locked`. Returns the buffer or -errno.
    func newBuf(dataSize: UInt64, offsetsSize: UInt64, extraSize: UInt64, isAsync: Bool, senderPid: Int32) -> AllocResult {
        if !mapped { return .failure(Errno.ESRCH) }
        let size = Allocator.sanitizedSize(dataSize, offsetsSize, extraSize)
        if size == 0 { return .failure(Errno.EINVAL) }
        if isAsync && freeAsyncSpace < size { return .failure(Errno.ENOSPC) }
        var n = freeTree.root
        var best: RBNode<Buffer>? = nil
        var exact = false
        while let cur = n {
            if size < cur.key { best = cur; n = cur.left }
            else if size > cur.key { n = cur.right }
            else { best = cur; exact = true; break }
        }
        guard let bestNode = best else { return .failure(Errno.ENOSPC) }
        let buffer = bestNode.value
        if !exact {
            let rest = Buffer(start: buffer.start + size)
            let i = blocks.firstIndex { $0 === buffer }!
            blocks.insert(rest, at: i + 1)
            insertFree(rest)
        }
        eraseFree(buffer)
        buffer.free = false
        buffer.allowUserFree = false
        buffer.asyncTransaction = isAsync
        buffer.onewaySpamSuspect = false
        if isAsync {
            freeAsyncSpace -= size
            if debugLowAsyncSpace(senderPid: senderPid) { buffer.onewaySpamSuspect = true }
        }
        buffer.dataSize = dataSize
        buffer.offsetsSize = offsetsSize
        buffer.extraBuffersSize = extraSize
        buffer.pid = senderPid
        buffer.targetNode = nil
        buffer.transaction = nil
        buffer.clearOnFree = false
        return .success(buffer)
    }

    /// Mirrors `debug_low_async_space_locked` (the new buffer still carries its stale pid).
    func debugLowAsyncSpace(senderPid: Int32) -> Bool {
        if freeAsyncSpace >= bufferSize / 10 { onewaySpamDetected = false; return false }
        var total: UInt64 = 0
        var count = 0
        for b in blocks where !b.free && b.pid == senderPid && b.asyncTransaction {
            total += size(of: b); count += 1
        }
        if count > 50 || total > bufferSize / 4 {
            if !onewaySpamDetected { onewaySpamDetected = true; return true }
        }
        return false
    }

    /// Mirrors `binder_alloc_free_buf` / `binder_free_buf_locked`.
    func freeBuf(_ buffer: Buffer) {
        guard !buffer.free, let i0 = blocks.firstIndex(where: { $0 === buffer }) else { return }
        let slot = size(of: buffer)
        if buffer.clearOnFree {
            let s = Int(buffer.start)
            for k in s..<(s + Int(slot)) { mem[k] = 0 }
            buffer.clearOnFree = false
        }
        if buffer.asyncTransaction { freeAsyncSpace += slot }
        buffer.free = true
        buffer.allowUserFree = false
        buffer.targetNode = nil
        buffer.transaction = nil
        var merged = buffer
        if i0 + 1 < blocks.count, blocks[i0 + 1].free {
            let next = blocks[i0 + 1]
            eraseFree(next)
            blocks.remove(at: i0 + 1)
        }
        if i0 > 0, blocks[i0 - 1].free {
            let prev = blocks[i0 - 1]
            blocks.remove(at: i0)
            eraseFree(prev)
            merged = prev
        }
        insertFree(merged)
    }

    /// Allocated buffer starting at `offset` (`binder_alloc_prepare_to_free_locked` lookup).
    func allocated(at offset: UInt64) -> Buffer? { blocks.first { !$0.free && $0.start == offset } }

    /// Copies bytes into the mapping (`binder_alloc_copy_to_buffer`); bounds are checked by callers.
    func write(_ bytes: [UInt8], at offset: UInt64) {
        let o = Int(offset)
        for (k, v) in bytes.enumerated() { mem[o + k] = v }
    }
    func read(at offset: UInt64, count: Int) -> [UInt8] {
        let o = Int(offset)
        return Array(mem[o..<(o + count)])
    }
}
