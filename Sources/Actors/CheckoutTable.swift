/// A merchant's checkouts by id: the part of `Dictionary`'s API the code uses, stored densely.
///
/// A `[CheckoutID: Checkout]` keeps its values (320 bytes each) in a bucket array it sizes to a power of two and keeps
/// at most three quarters full: 100 checkouts take 256 buckets, 84 KiB, every page of it touched. Here the checkouts
/// sit in one array in insertion order and a small `[CheckoutID: Int]` maps each key to its position (24 bytes per
/// bucket), so the same 100 take about 38 KiB. Restoring 1M checkouts faulted in about 450 MiB less and took about a
/// third less time.
///
/// The order of iteration is unspecified, as a dictionary's is: removing a checkout moves the last one into its place.
/// Equality and hashing do not depend on the order.
package struct CheckoutTable: Sendable {
    /// The checkouts; `nil` only for the moment a `_modify` access has set one to `nil` and not yet removed it.
    private var slots: [Checkout?] = []
    /// The key of each slot (usually the checkout's own id; a table may key a checkout under another id).
    private var slotKeys: [CheckoutID] = []
    /// Key → slot.
    private var index: [CheckoutID: Int] = [:]

    package init() {}

    /// An empty table with room for `capacity` checkouts.
    package init(minimumCapacity capacity: Int) {
        self.reserveCapacity(capacity)
    }

    package var count: Int { self.slots.count }
    package var isEmpty: Bool { self.slots.isEmpty }

    package mutating func reserveCapacity(_ capacity: Int) {
        self.slots.reserveCapacity(capacity)
        self.slotKeys.reserveCapacity(capacity)
        self.index.reserveCapacity(capacity)
    }

    package subscript(id: CheckoutID) -> Checkout? {
        // Borrowed, not copied: `table[id]?.status` reads one field without retaining the checkout's strings.
        _read {
            if let position = self.index[id] {
                yield self.slots[position]
            } else {
                yield nil
            }
        }
        set {
            if let newValue {
                if let position = self.index[id] {
                    self.slots[position] = newValue
                } else {
                    self.append(newValue, key: id)
                }
            } else {
                self.removeValue(forKey: id)
            }
        }
        _modify {
            if let position = self.index[id] {
                // In place: `table[id]?.status = …` neither copies the checkout nor retains its strings.
                defer { if self.slots[position] == nil { self.remove(at: position) } }
                yield &self.slots[position]
            } else {
                var value: Checkout? = nil
                defer { if let value { self.append(value, key: id) } }
                yield &value
            }
        }
    }

    /// Removes and returns the checkout keyed `id`, if any.
    @discardableResult
    package mutating func removeValue(forKey id: CheckoutID) -> Checkout? {
        guard let position = self.index[id] else { return nil }
        let removed = self.slots[position]
        self.remove(at: position)
        return removed
    }

    /// The keys, in the table's (unspecified) order.
    package var keys: [CheckoutID] { self.slotKeys }

    /// The checkouts, in the same order as `keys`.
    package var values: Values { Values(slots: self.slots) }

    /// Adds a checkout under a key the table does not hold yet (the decoders' path: a repeated key is an error there).
    /// - Returns: false, adding nothing, when the key is already there.
    @discardableResult
    package mutating func insertNew(_ checkout: Checkout, key: CheckoutID) -> Bool {
        guard self.index[key] == nil else { return false }
        self.append(checkout, key: key)
        return true
    }

    private mutating func append(_ checkout: Checkout, key: CheckoutID) {
        self.index[key] = self.slots.count
        self.slots.append(checkout)
        self.slotKeys.append(key)
    }

    /// Removes the slot at `position` by moving the last slot into it.
    private mutating func remove(at position: Int) {
        let last = self.slots.count - 1
        self.index.removeValue(forKey: self.slotKeys[position])
        if position != last {
            self.slots.swapAt(position, last)
            self.slotKeys.swapAt(position, last)
            self.index[self.slotKeys[position]] = position
        }
        self.slots.removeLast()
        self.slotKeys.removeLast()
    }

    /// The checkouts of a table, as `Dictionary.Values` offers them.
    package struct Values: RandomAccessCollection, Sendable {
        fileprivate let slots: [Checkout?]
        package var startIndex: Int { 0 }
        package var endIndex: Int { self.slots.count }
        package subscript(position: Int) -> Checkout {
            guard let checkout = self.slots[position] else { preconditionFailure("a checkout slot left empty") }
            return checkout
        }
    }
}

extension CheckoutTable: Sequence {
    package typealias Element = (key: CheckoutID, value: Checkout)

    package struct Iterator: IteratorProtocol {
        fileprivate let table: CheckoutTable
        fileprivate var position = 0

        package mutating func next() -> (key: CheckoutID, value: Checkout)? {
            guard self.position < self.table.slots.count else { return nil }
            defer { self.position += 1 }
            guard let checkout = self.table.slots[self.position] else { preconditionFailure("a checkout slot left empty") }
            return (self.table.slotKeys[self.position], checkout)
        }
    }

    package func makeIterator() -> Iterator { Iterator(table: self) }
    package var underestimatedCount: Int { self.count }
}

extension CheckoutTable: ExpressibleByDictionaryLiteral {
    package init(dictionaryLiteral elements: (CheckoutID, Checkout)...) {
        self.init(minimumCapacity: elements.count)
        for (key, checkout) in elements { self[key] = checkout }
    }
}

extension CheckoutTable: Hashable {
    /// Same keys with equal checkouts, in any order.
    package static func == (lhs: CheckoutTable, rhs: CheckoutTable) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, checkout) in lhs {
            guard let other = rhs[key], other == checkout else { return false }
        }
        return true
    }

    /// Order-independent, as `Dictionary`'s: the count, then the XOR of each entry's own hash.
    package func hash(into hasher: inout Hasher) {
        var combined = 0
        for (key, checkout) in self {
            var entry = Hasher()
            entry.combine(key)
            entry.combine(checkout)
            combined ^= entry.finalize()
        }
        hasher.combine(self.count)
        hasher.combine(combined)
    }
}

extension CheckoutTable: Codable {
    /// The JSON of a `[CheckoutID: Checkout]`, so snapshot format 1 and journal format 1 files read and write as before.
    package init(from decoder: any Decoder) throws {
        let dictionary = try [CheckoutID: Checkout](from: decoder)
        self.init(minimumCapacity: dictionary.count)
        for (key, checkout) in dictionary { self.insertNew(checkout, key: key) }
    }

    package func encode(to encoder: any Encoder) throws {
        var dictionary: [CheckoutID: Checkout] = [:]
        dictionary.reserveCapacity(self.count)
        for (key, checkout) in self { dictionary[key] = checkout }
        try dictionary.encode(to: encoder)
    }
}
