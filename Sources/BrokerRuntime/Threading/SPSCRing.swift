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
    private let padding3: (Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0)
    /// Set by a producer that keeps what did not fit (its overflow) and will not run again
    /// until something wakes it; the consumer that makes room clears it and wakes the producer.
    private let producerWaiting = Atomic<Bool>(false)

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

    /// Consumer side: how many elements can be popped now (reads the producer's index afresh).
    public func availableCount() -> Int {
        consumerCachedTail = tail.load(ordering: .acquiring)
        return consumerCachedTail &- head.load(ordering: .relaxed)
    }

    /// Consumer side: `key` of the next element without taking it; only when `availableCount`
    /// said there is one.
    @inline(__always)
    public func peekAvailable<T>(_ key: (Element) -> T) -> T {
        key(slots[head.load(ordering: .relaxed) & mask]!)
    }

    /// Entries in the ring, read from any thread (a moment's figure, for metrics).
    public var approximateCount: Int {
        max(0, tail.load(ordering: .relaxed) &- head.load(ordering: .relaxed))
    }

    /// Producer side, after a push found the ring full: asks the consumer to wake the producer
    /// once it makes room. Returns true when room appeared meanwhile (push again: the consumer
    /// may have drained everything before it could see the request).
    ///
    /// The request and the consumer's check form a store-then-load pair on each side (the
    /// producer sets the flag then reads `head`; the consumer moves `head` then reads the flag),
    /// so both sides fence: at least one of them sees the other's write, and no wake-up is lost.
    public func requestWakeWhenRoom() -> Bool {
        producerWaiting.store(true, ordering: .relaxed)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        producerCachedHead = head.load(ordering: .acquiring)
        return tail.load(ordering: .relaxed) &- producerCachedHead < capacity
    }

    /// Consumer side, after popping: whether a producer asked to be woken for room (and the
    /// request is now answered). One fence and a load per call: once per drain, not per pop.
    public func takeWakeRequest() -> Bool {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        guard producerWaiting.load(ordering: .relaxed) else { return false }
        return producerWaiting.exchange(false, ordering: .relaxed)
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
