/// A red-black tree keyed by an integer, shaped exactly like Linux `lib/rbtree.c`
/// (CLRS insertion fix-up; erase splices in the in-order successor). Equal keys go right.
final class RBNode<Value: AnyObject> {
    var key: UInt64
    let value: Value
    var left: RBNode?
    var right: RBNode?
    weak var parent: RBNode?
    var red = true
    init(key: UInt64, value: Value) { self.key = key; self.value = value }
}

final class RedBlackTree<Value: AnyObject> {
    var root: RBNode<Value>?

    /// Mirrors `rb_link_node` + `rb_insert_color` after a descent where `key < node` goes left.
    @discardableResult
    func insert(key: UInt64, value: Value) -> RBNode<Value> {
        let z = RBNode(key: key, value: value)
        var parent: RBNode<Value>? = nil
        var cur = root
        while let c = cur { parent = c; cur = key < c.key ? c.left : c.right }
        z.parent = parent
        if let p = parent { if key < p.key { p.left = z } else { p.right = z } } else { root = z }
        insertFixup(z)
        return z
    }

    private func rotateLeft(_ x: RBNode<Value>) {
        guard let y = x.right else { return }
        x.right = y.left; y.left?.parent = x
        y.parent = x.parent
        if let p = x.parent { if p.left === x { p.left = y } else { p.right = y } } else { root = y }
        y.left = x; x.parent = y
    }
    private func rotateRight(_ x: RBNode<Value>) {
        guard let y = x.left else { return }
        x.left = y.right; y.right?.parent = x
        y.parent = x.parent
        if let p = x.parent { if p.left === x { p.left = y } else { p.right = y } } else { root = y }
        y.right = x; x.parent = y
    }

    private func insertFixup(_ node: RBNode<Value>) {
        var z = node
        while let p = z.parent, p.red, let g = p.parent {
            if p === g.left {
                if let u = g.right, u.red { p.red = false; u.red = false; g.red = true; z = g; continue }
                if z === p.right { z = p; rotateLeft(z) }
                z.parent!.red = false; g.red = true; rotateRight(g)
            } else {
                if let u = g.left, u.red { p.red = false; u.red = false; g.red = true; z = g; continue }
                if z === p.left { z = p; rotateRight(z) }
                z.parent!.red = false; g.red = true; rotateLeft(g)
            }
        }
        root?.red = false
    }

    private func transplant(_ u: RBNode<Value>, _ v: RBNode<Value>?) {
        if let p = u.parent { if p.left === u { p.left = v } else { p.right = v } } else { root = v }
        v?.parent = u.parent
    }

    /// Mirrors `rb_erase` (successor splice, then the CLRS delete fix-up).
    func erase(_ z: RBNode<Value>) {
        var yRed = z.red
        var x: RBNode<Value>?
        var xParent: RBNode<Value>?
        if z.left == nil {
            x = z.right; xParent = z.parent; transplant(z, z.right)
        } else if z.right == nil {
            x = z.left; xParent = z.parent; transplant(z, z.left)
        } else {
            var y = z.right!
            while let l = y.left { y = l }
            yRed = y.red
            x = y.right
            if y.parent === z {
                xParent = y
            } else {
                xParent = y.parent
                transplant(y, y.right)
                y.right = z.right; y.right?.parent = y
            }
            transplant(z, y)
            y.left = z.left; y.left?.parent = y
            y.red = z.red
        }
        z.left = nil; z.right = nil; z.parent = nil
        if !yRed { deleteFixup(x, xParent) }
    }

    private func deleteFixup(_ start: RBNode<Value>?, _ startParent: RBNode<Value>?) {
        var x = start
        var parent = startParent
        while x !== root && (x == nil || !x!.red) {
            guard let p = parent else { break }
            if x === p.left {
                guard var w = p.right else { break }
                if w.red { w.red = false; p.red = true; rotateLeft(p); w = p.right! }
                if !(w.left?.red ?? false) && !(w.right?.red ?? false) {
                    w.red = true; x = p; parent = p.parent
                } else {
                    if !(w.right?.red ?? false) { w.left?.red = false; w.red = true; rotateRight(w); w = p.right! }
                    w.red = p.red; p.red = false; w.right?.red = false; rotateLeft(p)
                    x = root; parent = nil
                }
            } else {
                guard var w = p.left else { break }
                if w.red { w.red = false; p.red = true; rotateRight(p); w = p.left! }
                if !(w.left?.red ?? false) && !(w.right?.red ?? false) {
                    w.red = true; x = p; parent = p.parent
                } else {
                    if !(w.left?.red ?? false) { w.right?.red = false; w.red = true; rotateLeft(w); w = p.left! }
                    w.red = p.red; p.red = false; w.left?.red = false; rotateRight(p)
                    x = root; parent = nil
                }
            }
        }
        x?.red = false
    }

    /// In-order values.
    var inOrder: [Value] {
        var out: [Value] = []
        func walk(_ n: RBNode<Value>?) { guard let n else { return }; walk(n.left); out.append(n.value); walk(n.right) }
        walk(root)
        return out
    }

    /// Returns nil if the tree is a valid red-black tree with consistent parents and key order.
    func validate() -> String? {
        if root?.red == true { return "rb root is red" }
        func check(_ n: RBNode<Value>?, _ lo: UInt64?, _ hi: UInt64?) -> (Int, String?) {
            guard let n else { return (1, nil) }
            if let lo, n.key < lo { return (0, "rb key order") }
            if let hi, n.key > hi { return (0, "rb key order") }
            if n.red && ((n.left?.red ?? false) || (n.right?.red ?? false)) { return (0, "rb red-red") }
            if let l = n.left, l.parent !== n { return (0, "rb parent link") }
            if let r = n.right, r.parent !== n { return (0, "rb parent link") }
            let (lh, le) = check(n.left, lo, n.key); if le != nil { return (0, le) }
            let (rh, re) = check(n.right, n.key, hi); if re != nil { return (0, re) }
            if lh != rh { return (0, "rb black height") }
            return (lh + (n.red ? 0 : 1), nil)
        }
        return check(root, nil, nil).1
    }
}
