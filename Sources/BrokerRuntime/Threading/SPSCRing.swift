import Synchronization

/// A bounded lock-free single-producer/single-consumer queue: exactly one thread pushes and
/// exactly one thread pops. FIFO, so messages from one shard to another keep their order.
///
/// Each side caches the other side's index and re-reads the atomic only when the cache says
/// full/empty, so a busy ring costs one release store per push/pop and rarely touches the
/// other core's cache line.
public final class SPSCRing<Element>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<Element?>
    private let mask: Int
    public let capacity: Int

    /// Next slot the consumer reads. Written by the consumer only.
    private let head = Atomic<Int>(0)
    private let padding0: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
    /// Next slot the producer writes. Written by the producer only.
    private let tail = Atomic<Int>(0)
    private let padding1: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
    /// Producer's last view of `head`.
    private var producerCachedHead = 0
    private let padding2: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
    /// Consumer's last view of `tail`.
    private var consumerCachedTail = 0

    /// `capacity` is rounded up to a power of two.
    public init(capacity: Int) {
        var size = 2
        while size < capacity { size <<= 1 }
        self.capacity = size
        self.mask = size - 1
        self.slots = .allocate(capacity: size)
        self.slots.initialize(repeating: nil, count: size)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// Producer side. Returns false (and keeps nothing) when the ring is full.
    @inline(__always)
    public func push(_ element: Element) -> Bool {
        let tail = self.tail.load(ordering: .relaxed)
        if tail &- producerCachedHead == capacity {
            producerCachedHead = head.load(ordering: .acquiring)
            if tail &- producerCachedHead == capacity { return false }
        }
        slots[tail & mask] = element
        self.tail.store(tail &+ 1, ordering: .releasing)
        return true
    }

    /// Consumer side. Returns nil when the ring is empty.
    @inline(__always)
    public func pop() -> Element? {
        let head = self.head.load(ordering: .relaxed)
        if head == consumerCachedTail {
            consumerCachedTail = tail.load(ordering: .acquiring)
            if head == consumerCachedTail { return nil }
        }
        let slot = slots + (head & mask)
        let element = slot.pointee
        slot.pointee = nil
        self.head.store(head &+ 1, ordering: .releasing)
        return element
    }

    /// Entries in the ring, read from any thread (a moment's figure, for metrics).
    public var approximateCount: Int {
        max(0, tail.load(ordering: .relaxed) &- head.load(ordering: .relaxed))
    }

    /// Consumer side: whether anything is waiting (one acquire load when the cache says empty).
    @inline(__always)
    public var hasElements: Bool {
        let head = self.head.load(ordering: .relaxed)
        if head != consumerCachedTail { return true }
        consumerCachedTail = tail.load(ordering: .acquiring)
        return head != consumerCachedTail
    }
}
