import BinderUAPI

/// One block of a binder mapping (free or allocated), stored by index in `Allocator.blocks`.
/// Mirrors `struct binder_buffer` of binder_alloc.h: the descriptor identity matters for the
/// oneway-spam `pid` quirk (a split keeps the low descriptor, a merge destroys the higher one).
struct Block {
    var start: Int = 0
    var prev: Int32 = -1
    var next: Int32 = -1
    var free: Bool = true
    // red-black tree links (free tree only)
    var left: Int32 = -1
    var right: Int32 = -1
    var parent: Int32 = -1
    var red: Bool = false
    // buffer metadata
    var pid: Int32 = 0
    var async: Bool = false
    var spamSuspect: Bool = false
    var allowUserFree: Bool = false
    var clearOnFree: Bool = false
    var dataSize: UInt64 = 0
    var offsetsSize: UInt64 = 0
    var extraSize: UInt64 = 0
}

/// The per-proc buffer allocator (`struct binder_alloc`, binder_alloc.c): an address-ordered
/// block list, a size-keyed red-black free tree with the exact `lib/rbtree.c` shape, an
/// offset-indexed allocated set, and the arena bytes that are the receiver's view of its mapping.
final class Allocator {
    var blocks: [Block] = []
    var spare: [Int32] = []
    var root: Int32 = -1
    var bufferSize: Int = 0
    var mapped = false
    var freeAsyncSpace: Int = 0
    var onewaySpamDetected = false
    var allocated: [Int: Int32] = [:]
    var txn: [Transaction?] = []
    var targetNode: [Node?] = []
    var arena: [UInt8] = []

    /// `binder_alloc_mmap_handler`: one free block covering the whole area.
    func mmap(size: Int) {
        bufferSize = size
        arena = [UInt8](repeating: 0, count: size)
        let b = newBlock()
        blocks[Int(b)].start = 0
        blocks[Int(b)].free = true
        freeAsyncSpace = size / 2
        mapped = true
        treeInsert(b)
    }

    @inline(__always) func size(of b: Int32) -> Int {
        let n = blocks[Int(b)].next
        return (n >= 0 ? blocks[Int(n)].start : bufferSize) - blocks[Int(b)].start
    }

    private func newBlock() -> Int32 {
        if let i = spare.popLast() {
            blocks[Int(i)] = Block()
            txn[Int(i)] = nil; targetNode[Int(i)] = nil
            return i
        }
        blocks.append(Block()); txn.append(nil); targetNode.append(nil)
        return Int32(blocks.count - 1)
    }
    private func deleteBlock(_ b: Int32) {
        txn[Int(b)] = nil; targetNode[Int(b)] = nil
        spare.append(b)
    }

    /// `sanitized_size`: 0 on overflow.
    static func sanitizedSize(_ d: UInt64, _ o: UInt64, _ e: UInt64) -> UInt64 {
        let ad = (d &+ 7) & ~7, ao = (o &+ 7) & ~7, ae = (e &+ 7) & ~7
        let (tmp, ov1) = ad.addingReportingOverflow(ao)
        if ov1 || tmp < d || tmp < o { return 0 }
        let (total, ov2) = tmp.addingReportingOverflow(ae)
        if ov2 || total < tmp || total < e { return 0 }
        return max(total, 8)
    }

    /// `binder_alloc_new_buf` + `binder_alloc_new_buf_locked` + `debug_low_async_space_locked`.
    /// Returns the block index or a negative errno.
    func newBuf(data: UInt64, offsets: UInt64, extra: UInt64, isAsync: Bool, senderPid: Int32,
                ignoreTieBreak: Bool = false) -> Int {
        if !mapped { return -Int(Errno.ESRCH.rawValue) }
        let s64 = Allocator.sanitizedSize(data, offsets, extra)
        if s64 == 0 { return -Int(Errno.EINVAL.rawValue) }
        if s64 > UInt64(Int.max / 2) { return -Int(Errno.ENOSPC.rawValue) }
        let size = Int(s64)
        #if BINDER_MUTANTS
        if isAsync && (Mutant.active == .asyncLimitOffByOne ? freeAsyncSpace <= size : freeAsyncSpace < size) { return -Int(Errno.ENOSPC.rawValue) }
        #else
        if isAsync && freeAsyncSpace < size { return -Int(Errno.ENOSPC.rawValue) }
        #endif
        var n = root
        var best: Int32 = -1
        while n >= 0 {
            let bs = self.size(of: n)
            if size < bs { best = n; n = blocks[Int(n)].left }
            else if size > bs { n = blocks[Int(n)].right }
            else { best = n; break }
        }
        #if BINDER_MUTANTS
        if Mutant.active == .allocLowestAddress, best >= 0 {
            // pick lowest address among free blocks of the chosen size
            let want = self.size(of: best)
            var b: Int32 = 0
            var cand: Int32 = -1
            // walk address list from the first block
            var first: Int32 = -1
            for (i, blk) in blocks.enumerated() where blk.prev == -1 && !spare.contains(Int32(i)) { first = Int32(i); break }
            b = first
            while b >= 0 {
                if blocks[Int(b)].free && self.size(of: b) == want { cand = b; break }
                b = blocks[Int(b)].next
            }
            if cand >= 0 { best = cand }
        }
        #endif
        if best < 0 { return -Int(Errno.ENOSPC.rawValue) }
        let bsz = self.size(of: best)
        if bsz != size {
            let nb = newBlock()
            blocks[Int(nb)].start = blocks[Int(best)].start + size
            blocks[Int(nb)].free = true
            let nx = blocks[Int(best)].next
            blocks[Int(nb)].prev = best
            blocks[Int(nb)].next = nx
            if nx >= 0 { blocks[Int(nx)].prev = nb }
            blocks[Int(best)].next = nb
            treeInsert(nb)
        }
        treeErase(best)
        blocks[Int(best)].free = false
        blocks[Int(best)].allowUserFree = false
        allocated[blocks[Int(best)].start] = best
        blocks[Int(best)].async = isAsync
        blocks[Int(best)].spamSuspect = false
        if isAsync {
            freeAsyncSpace -= size
            if lowAsyncSpace(senderPid: senderPid) { blocks[Int(best)].spamSuspect = true }
        }
        blocks[Int(best)].dataSize = data
        blocks[Int(best)].offsetsSize = offsets
        blocks[Int(best)].extraSize = extra
        blocks[Int(best)].pid = senderPid
        return Int(best)
    }

    /// `debug_low_async_space_locked`.
    private func lowAsyncSpace(senderPid: Int32) -> Bool {
        if freeAsyncSpace >= bufferSize / 10 { onewaySpamDetected = false; return false }
        var total = 0, count = 0
        for (_, b) in allocated {
            let blk = blocks[Int(b)]
            if blk.pid != senderPid || !blk.async { continue }
            total += size(of: b); count += 1
        }
        if count > 50 || total > bufferSize / 4 {
            if !onewaySpamDetected { onewaySpamDetected = true; return true }
        }
        return false
    }

    /// `binder_alloc_free_buf` + `binder_free_buf_locked`.
    func freeBuf(_ b0: Int32) {
        var b = b0
        let bs = size(of: b)
        if blocks[Int(b)].clearOnFree {
            let s = blocks[Int(b)].start
            for i in s..<(s + bs) { arena[i] = 0 }
        }
        if blocks[Int(b)].async {
            #if BINDER_MUTANTS
            if Mutant.active != .asyncSpaceLeak { freeAsyncSpace += bs }
            #else
            freeAsyncSpace += bs
            #endif
        }
        allocated[blocks[Int(b)].start] = nil
        txn[Int(b)] = nil; targetNode[Int(b)] = nil
        blocks[Int(b)].free = true
        let nx = blocks[Int(b)].next
        if nx >= 0 && blocks[Int(nx)].free {
            treeErase(nx)
            unlink(nx)
        }
        let pv = blocks[Int(b)].prev
        var mergePrev = pv >= 0 && blocks[Int(pv)].free
        #if BINDER_MUTANTS
        if Mutant.active == .noMergePrev { mergePrev = false }
        #endif
        if mergePrev {
            unlink(b)
            treeErase(pv)
            b = pv
        }
        treeInsert(b)
    }

    /// `binder_delete_free_buffer`: drop a block from the address list.
    private func unlink(_ b: Int32) {
        let p = blocks[Int(b)].prev, n = blocks[Int(b)].next
        if p >= 0 { blocks[Int(p)].next = n }
        if n >= 0 { blocks[Int(n)].prev = p }
        deleteBlock(b)
    }

    // MARK: red-black tree (lib/rbtree.c shape: CLRS insert fixup, successor-splicing erase)

    private func rotateLeft(_ x: Int32) {
        let y = blocks[Int(x)].right
        let yl = blocks[Int(y)].left
        blocks[Int(x)].right = yl
        if yl >= 0 { blocks[Int(yl)].parent = x }
        let xp = blocks[Int(x)].parent
        blocks[Int(y)].parent = xp
        if xp < 0 { root = y } else if blocks[Int(xp)].left == x { blocks[Int(xp)].left = y } else { blocks[Int(xp)].right = y }
        blocks[Int(y)].left = x
        blocks[Int(x)].parent = y
    }
    private func rotateRight(_ x: Int32) {
        let y = blocks[Int(x)].left
        let yr = blocks[Int(y)].right
        blocks[Int(x)].left = yr
        if yr >= 0 { blocks[Int(yr)].parent = x }
        let xp = blocks[Int(x)].parent
        blocks[Int(y)].parent = xp
        if xp < 0 { root = y } else if blocks[Int(xp)].right == x { blocks[Int(xp)].right = y } else { blocks[Int(xp)].left = y }
        blocks[Int(y)].right = x
        blocks[Int(x)].parent = y
    }
    @inline(__always) private func isRed(_ n: Int32) -> Bool { n >= 0 && blocks[Int(n)].red }

    /// `binder_insert_free_buffer`: smaller goes left, equal or larger goes right.
    func treeInsert(_ z: Int32) {
        let zs = size(of: z)
        var y: Int32 = -1
        var x = root
        var goLeft = false
        while x >= 0 {
            y = x
            goLeft = zs < size(of: x)
            x = goLeft ? blocks[Int(x)].left : blocks[Int(x)].right
        }
        blocks[Int(z)].parent = y
        blocks[Int(z)].left = -1; blocks[Int(z)].right = -1
        blocks[Int(z)].red = true
        if y < 0 { root = z } else if goLeft { blocks[Int(y)].left = z } else { blocks[Int(y)].right = z }
        var n = z
        while isRed(blocks[Int(n)].parent) {
            let p = blocks[Int(n)].parent
            let g = blocks[Int(p)].parent
            if p == blocks[Int(g)].left {
                let u = blocks[Int(g)].right
                if isRed(u) {
                    blocks[Int(p)].red = false; blocks[Int(u)].red = false; blocks[Int(g)].red = true; n = g
                } else {
                    var pp = p
                    if n == blocks[Int(p)].right { n = p; rotateLeft(n); pp = blocks[Int(n)].parent }
                    blocks[Int(pp)].red = false; blocks[Int(g)].red = true; rotateRight(g)
                }
            } else {
                let u = blocks[Int(g)].left
                if isRed(u) {
                    blocks[Int(p)].red = false; blocks[Int(u)].red = false; blocks[Int(g)].red = true; n = g
                } else {
                    var pp = p
                    if n == blocks[Int(p)].left { n = p; rotateRight(n); pp = blocks[Int(n)].parent }
                    blocks[Int(pp)].red = false; blocks[Int(g)].red = true; rotateLeft(g)
                }
            }
        }
        blocks[Int(root)].red = false
    }

    private func transplant(_ u: Int32, _ v: Int32) {
        let up = blocks[Int(u)].parent
        if up < 0 { root = v } else if blocks[Int(up)].left == u { blocks[Int(up)].left = v } else { blocks[Int(up)].right = v }
        if v >= 0 { blocks[Int(v)].parent = up }
    }

    func treeErase(_ z: Int32) {
        var yRed = blocks[Int(z)].red
        var x: Int32
        var xp: Int32
        if blocks[Int(z)].left < 0 {
            x = blocks[Int(z)].right; xp = blocks[Int(z)].parent
            transplant(z, x)
        } else if blocks[Int(z)].right < 0 {
            x = blocks[Int(z)].left; xp = blocks[Int(z)].parent
            transplant(z, x)
        } else {
            var y = blocks[Int(z)].right
            while blocks[Int(y)].left >= 0 { y = blocks[Int(y)].left }
            yRed = blocks[Int(y)].red
            x = blocks[Int(y)].right
            if blocks[Int(y)].parent == z {
                xp = y
            } else {
                xp = blocks[Int(y)].parent
                transplant(y, x)
                blocks[Int(y)].right = blocks[Int(z)].right
                blocks[Int(blocks[Int(y)].right)].parent = y
            }
            transplant(z, y)
            blocks[Int(y)].left = blocks[Int(z)].left
            blocks[Int(blocks[Int(y)].left)].parent = y
            blocks[Int(y)].red = blocks[Int(z)].red
        }
        blocks[Int(z)].left = -1; blocks[Int(z)].right = -1; blocks[Int(z)].parent = -1
        if yRed { return }
        while x != root && !isRed(x) {
            if xp < 0 { break }
            if x == blocks[Int(xp)].left {
                var w = blocks[Int(xp)].right
                if isRed(w) {
                    blocks[Int(w)].red = false; blocks[Int(xp)].red = true; rotateLeft(xp); w = blocks[Int(xp)].right
                }
                if !isRed(blocks[Int(w)].left) && !isRed(blocks[Int(w)].right) {
                    blocks[Int(w)].red = true; x = xp; xp = blocks[Int(x)].parent
                } else {
                    if !isRed(blocks[Int(w)].right) {
                        blocks[Int(blocks[Int(w)].left)].red = false; blocks[Int(w)].red = true; rotateRight(w); w = blocks[Int(xp)].right
                    }
                    blocks[Int(w)].red = blocks[Int(xp)].red; blocks[Int(xp)].red = false
                    blocks[Int(blocks[Int(w)].right)].red = false
                    rotateLeft(xp); x = root; xp = -1
                }
            } else {
                var w = blocks[Int(xp)].left
                if isRed(w) {
                    blocks[Int(w)].red = false; blocks[Int(xp)].red = true; rotateRight(xp); w = blocks[Int(xp)].left
                }
                if !isRed(blocks[Int(w)].left) && !isRed(blocks[Int(w)].right) {
                    blocks[Int(w)].red = true; x = xp; xp = blocks[Int(x)].parent
                } else {
                    if !isRed(blocks[Int(w)].left) {
                        blocks[Int(blocks[Int(w)].right)].red = false; blocks[Int(w)].red = true; rotateLeft(w); w = blocks[Int(xp)].left
                    }
                    blocks[Int(w)].red = blocks[Int(xp)].red; blocks[Int(xp)].red = false
                    blocks[Int(blocks[Int(w)].left)].red = false
                    rotateRight(xp); x = root; xp = -1
                }
            }
        }
        if x >= 0 { blocks[Int(x)].red = false }
    }

    /// Invariant check (tiling, coalescing, free tree content and red-black shape, async space).
    func check() -> String? {
        guard bufferSize > 0 else { return nil }
        var first: Int32 = -1
        var live = Set<Int32>()
        let spareSet = Set(spare)
        for i in 0..<blocks.count where !spareSet.contains(Int32(i)) {
            live.insert(Int32(i))
            if blocks[i].prev < 0 { if first >= 0 { return "two list heads" }; first = Int32(i) }
        }
        var b = first, expect = 0, count = 0, prevFree = false, asyncSum = 0
        var freeBlocks = Set<Int32>()
        while b >= 0 {
            count += 1
            if count > live.count { return "block list cycle" }
            if blocks[Int(b)].start != expect { return "blocks do not tile at \(expect)" }
            let s = size(of: b)
            if s <= 0 { return "empty block" }
            expect += s
            if blocks[Int(b)].free {
                if prevFree { return "adjacent free blocks" }
                freeBlocks.insert(b)
            } else {
                if allocated[blocks[Int(b)].start] != b { return "allocated block not indexed" }
                if blocks[Int(b)].async { asyncSum += s }
            }
            prevFree = blocks[Int(b)].free
            let n = blocks[Int(b)].next
            if n >= 0 && blocks[Int(n)].prev != b { return "bad back link" }
            b = n
        }
        if expect != bufferSize { return "blocks end at \(expect) not \(bufferSize)" }
        if count != live.count { return "unreachable blocks" }
        if allocated.count + freeBlocks.count != count { return "allocated index size mismatch" }
        if freeAsyncSpace != bufferSize / 2 - asyncSum { return "freeAsyncSpace \(freeAsyncSpace) != \(bufferSize / 2 - asyncSum)" }
        // tree
        var inTree = Set<Int32>()
        var blackHeight = -1
        func walk(_ n: Int32, _ parent: Int32, _ blacks: Int, _ lo: Int, _ hi: Int) -> String? {
            if n < 0 {
                if blackHeight < 0 { blackHeight = blacks } else if blackHeight != blacks { return "black height mismatch" }
                return nil
            }
            if inTree.contains(n) { return "tree cycle" }
            inTree.insert(n)
            if blocks[Int(n)].parent != parent { return "bad parent link" }
            if blocks[Int(n)].red && isRed(parent) { return "red-red" }
            let s = size(of: n)
            if s < lo || s > hi { return "tree order violated" }
            if let e = walk(blocks[Int(n)].left, n, blacks + (blocks[Int(n)].red ? 0 : 1), lo, s) { return e }
            return walk(blocks[Int(n)].right, n, blacks + (blocks[Int(n)].red ? 0 : 1), s, hi)
        }
        if isRed(root) { return "red root" }
        if let e = walk(root, -1, 0, Int.min, Int.max) { return e }
        if inTree != freeBlocks { return "free tree does not hold exactly the free blocks" }
        return nil
    }
}
