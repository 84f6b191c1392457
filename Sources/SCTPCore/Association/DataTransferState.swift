import SCTPWire

/// The part of an association that only user data needs: the transmission queue (send queue,
/// retransmission queue), the receiver (TSN tracking, SACKs, reassembly) and the data counters.
/// About 1,150 bytes, made on first use (`Association.dataState`): the first message sent, the
/// first DATA received, the first SACK, or any other call that reads or changes one of them.
/// An association that never carries data holds none (issue 19: memory per idle association);
/// an idle one holds its tags, TSNs, windows, stream counts and its paths with their timers.
struct DataTransferState {
    var tx: TransmissionQueue
    var receiver: DataReceiver
    /// The counters of data transfer; `packetsSent` and `packetsReceived` are the association's
    /// own (every association counts packets) and stay zero here.
    var statistics = AssociationStatistics()
    /// Where the latest DATA came from: SACKs go back there (§6.4). Kept here, as only DATA
    /// sets it (24 bytes of every association object while it was kept there).
    var lastDataSource: IPAddress?
    #if DEBUG
    /// Debug builds: the accesses open on each part through `Association.tx`, `receiver` and
    /// `dataStatistics` (`DataAccessCheck`).
    var access = DataAccessCheck()
    #endif

    /// The receiver's `peekSack()`, read in place. Called as `pointer.pointee.receiver.peekSack()`
    /// the non-mutating call copied the whole receiver first (its arrays retained and released),
    /// once for every SACK sent; through this mutating method `receiver` is borrowed where it is.
    @inline(__always)
    mutating func peekSack() -> SackChunk { receiver.peekSack() }
}

#if DEBUG
/// Debug builds check the accesses to the parts of a `DataTransferState` as Swift checks
/// those to a class's stored properties (which `tx` and `receiver` were before they moved
/// behind `DataTransferSlot`'s pointer): a modification overlapping any other access to the
/// same part traps; reads may overlap each other. Per part: the number of open reads, or -1
/// while a modification is open.
struct DataAccessCheck {
    var tx = 0
    var receiver = 0
    var statistics = 0

    @inline(__always)
    static func beginRead(_ open: inout Int, _ part: StaticString) {
        precondition(open >= 0, "overlapping accesses to the association's \(part): a read while it is being modified")
        open += 1
    }

    @inline(__always)
    static func beginModify(_ open: inout Int, _ part: StaticString) {
        precondition(open == 0, "overlapping accesses to the association's \(part): a modification while it is being \(open > 0 ? "read" : "modified")")
        open = -1
    }
}
#endif

/// Where an association keeps its `DataTransferState`: nothing until first use, then one
/// allocation of its own, freed with the association.
///
/// A pointer rather than a class: the packet path reaches `tx` and `receiver` many times per
/// packet, and through an optional class reference every access would retain and release the
/// box (the compiler cannot know it stays alive while an access is open) and, in a class,
/// check exclusivity. Through the pointer an access is a load and a test. `~Copyable`, so that
/// it has one owner, which frees it (`deinit`). The association never gives the pointer out.
/// Swift does not check exclusivity on the pointee; debug builds check the accesses through
/// `Association.tx`, `receiver` and `dataStatistics` themselves (`DataAccessCheck`), so an
/// overlapping access traps there as it did when they were stored properties. Code that
/// holds the pointer (the DATA receive path) is not checked.
struct DataTransferSlot: ~Copyable {
    private(set) var pointer: UnsafeMutablePointer<DataTransferState>?

    init() {}

    /// Stores the state (only while none is stored) and returns where it lives.
    mutating func store(_ state: consuming DataTransferState) -> UnsafeMutablePointer<DataTransferState> {
        precondition(pointer == nil, "the data transfer state is made once")
        let storage = UnsafeMutablePointer<DataTransferState>.allocate(capacity: 1)
        storage.initialize(to: state)
        pointer = storage
        return storage
    }

    deinit {
        guard let pointer else { return }
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
}

extension Association {
    /// The data transfer state, made now if it does not exist yet.
    @inline(__always)
    var dataState: UnsafeMutablePointer<DataTransferState> {
        if let pointer = dataSlot.pointer { return pointer }
        return makeDataState()
    }

    /// Makes the state if data transfer started and it does not exist yet (before a change of
    /// what `makeDataState` reads).
    func makeDataStateIfStarted() {
        if dataTransferStart != nil && !hasDataState { _ = makeDataState() }
    }

    /// Whether the data transfer state exists (some user data, SACK or data call happened).
    var hasDataState: Bool { dataSlot.pointer != nil }

    /// What waits to be sent and what is in flight (made on first use).
    var tx: TransmissionQueue {
        @inline(__always) _read {
            let state = dataState
            #if DEBUG
            DataAccessCheck.beginRead(&state.pointee.access.tx, "tx")
            defer { state.pointee.access.tx -= 1 }
            #endif
            yield state.pointee.tx
        }
        @inline(__always) _modify {
            let state = dataState
            #if DEBUG
            DataAccessCheck.beginModify(&state.pointee.access.tx, "tx")
            defer { state.pointee.access.tx = 0 }
            #endif
            yield &state.pointee.tx
        }
    }

    /// The receive side (made on first use).
    var receiver: DataReceiver {
        @inline(__always) _read {
            let state = dataState
            #if DEBUG
            DataAccessCheck.beginRead(&state.pointee.access.receiver, "receiver")
            defer { state.pointee.access.receiver -= 1 }
            #endif
            yield state.pointee.receiver
        }
        @inline(__always) _modify {
            let state = dataState
            #if DEBUG
            DataAccessCheck.beginModify(&state.pointee.access.receiver, "receiver")
            defer { state.pointee.access.receiver = 0 }
            #endif
            yield &state.pointee.receiver
        }
    }

    /// The data transfer counters to change (made on first use); `statistics` reads them all.
    var dataStatistics: AssociationStatistics {
        @inline(__always) _read {
            let state = dataState
            #if DEBUG
            DataAccessCheck.beginRead(&state.pointee.access.statistics, "data statistics")
            defer { state.pointee.access.statistics -= 1 }
            #endif
            yield state.pointee.statistics
        }
        @inline(__always) _modify {
            let state = dataState
            #if DEBUG
            DataAccessCheck.beginModify(&state.pointee.access.statistics, "data statistics")
            defer { state.pointee.access.statistics = 0 }
            #endif
            yield &state.pointee.statistics
        }
    }

    /// Data transfer counters (`SCTPEndpoint.statistics(of:)`), without making the state.
    var statistics: AssociationStatistics {
        var statistics = dataSlot.pointer?.pointee.statistics ?? AssociationStatistics()
        statistics.packetsSent = packetsSent
        statistics.packetsReceived = packetsReceived
        return statistics
    }

    /// Nothing queued and nothing in flight (true while there is no data transfer state).
    var isTransmissionIdle: Bool { dataSlot.pointer?.pointee.tx.isIdle ?? true }

    /// The receiver's cumulative TSN (the last in-order TSN received), without making the
    /// state: without one, the TSN before the peer's first (`DataTracker.init`).
    var peerCumulativeTSN: TSN {
        if let state = dataSlot.pointer { return state.pointee.receiver.tracker.cumulativeTSN }
        return (dataTransferStart ?? TSN(0)).previous
    }

    /// The peer's receive window as the sender tracks it, without making the state: without
    /// one, the a_rwnd of its INIT or INIT ACK once data transfer started (`configure`), else 0.
    var peerWindowAsTracked: Int {
        if let state = dataSlot.pointer { return state.pointee.tx.outstanding.peerReceiverWindow }
        return dataTransferStart == nil ? 0 : Int(peerReceiverWindow)
    }

    /// The receiver's delayed SACK deadline, without making the state.
    var sackDeadline: SCTPInstant? { dataSlot.pointer?.pointee.receiver.sackDeadline }

    /// The state as it would be had it been made when the association was set up and kept
    /// up to date since: what `init` made, with what `startDataTransfer` applied once data
    /// transfer started, and the interleaving and PR-SCTP choices the handshake made. Every
    /// other change of the state goes through `tx`, `receiver` or `dataStatistics`, which make
    /// it first. A change of the association's configuration before it does not make it: the
    /// state is made with the configuration of setup (`initialDataState`).
    @inline(never)
    func makeDataState() -> UnsafeMutablePointer<DataTransferState> {
        let state = dataSlot.store(initialDataState())
        if sharedConfiguration.dataStateBasis != nil { sharedConfiguration.dataStateBasis = nil }
        return state
    }

    /// The state `makeDataState` stores, made with the configuration of setup even when an
    /// option changed the association's since (`configuration`'s `_modify`): the options
    /// that concern this state apply their change to it themselves.
    func initialDataState() -> DataTransferState {
        let configuration = sharedConfiguration.dataStateBasis?.value ?? configuration
        var tx = TransmissionQueue(configuration: configuration, initialTSN: nextTSN)
        var receiver: DataReceiver
        if let peerInitialTSN = dataTransferStart {
            receiver = DataReceiver(peerInitialTSN: peerInitialTSN, inboundStreamCount: inboundStreams,
                                    configuration: .init(configuration))
            _ = tx.configure(outboundStreams: outboundStreams, peerReceiverWindow: peerReceiverWindow)
        } else {
            receiver = DataReceiver(peerInitialTSN: TSN(0), inboundStreamCount: 0, configuration: .init(configuration))
        }
        tx.peerSupportsForwardTSN = peerSupportsForwardTSN
        if interleaving {
            tx.setInterleaving(true)
            receiver.interleaving = true
        }
        return DataTransferState(tx: tx, receiver: receiver)
    }
}
