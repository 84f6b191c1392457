import NIOCore
import SCTPWire

/// What the shards of one sharded endpoint share (docs/SHARDING.md): which shard owns each
/// peer transport address, and the hand-over of a packet to another shard.
///
/// A sharded endpoint is N `SCTPEndpoint`s on one local port, each with its own
/// `SCTPEndpoint.tagShard`; the transport steers every packet to the shard its verification
/// tag names. A few packets cannot name their shard that way: an INIT for an association a
/// shard started itself (tag 0: a collision, or the peer's restart, RFC 9260 §5.2), and the
/// packets with the T bit set (ABORT, SHUTDOWN COMPLETE), which carry the peer's tag. The
/// shard that gets one and has no association for it asks the directory and, where another
/// shard owns the peer's address, hands the datagram over instead of answering it as out of
/// the blue.
///
/// The core calls it from its own thread only; the driver's implementation is what makes it
/// safe to share (a lock, or any other means). Like `SCTPRandomSource`, it is a dependency the
/// driver injects: the core itself never touches a thread or another shard.
public protocol SCTPShardDirectory: AnyObject {
    /// `shard` now owns the peer transport address `address`:`port`.
    func claim(peer address: IPAddress, port: UInt16, shard: UInt32)
    /// `shard` no longer owns `address`:`port` (nothing changes if another shard claimed it since).
    func release(peer address: IPAddress, port: UInt16, shard: UInt32)
    /// The shard that owns `address`:`port`, if any.
    func owner(peer address: IPAddress, port: UInt16) -> UInt32?
    /// Hands a datagram to shard `shard`, which handles it as `SCTPEndpoint.handle(datagram:
    /// from:to:now:congestionExperienced:forwarded:)` with `forwarded` true (and so never hands
    /// it on again).
    func forward(_ datagram: ByteBuffer, from source: IPAddress, to destination: IPAddress,
                 congestionExperienced: Bool, toShard shard: UInt32)
}
