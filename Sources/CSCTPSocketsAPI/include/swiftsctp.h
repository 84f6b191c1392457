/*
 * swiftsctp.h: the C interface of swift-sctp (libswiftsctp).
 *
 * The RFC 6458 functions keep their names and signatures (sctp_connectx, sctp_bindx,
 * sctp_peeloff, sctp_getpaddrs, sctp_getladdrs, sctp_sendv, sctp_recvv, sctp_opt_info,
 * sctp_sendmsg, sctp_recvmsg). The socket calls a kernel would provide are prefixed
 * (swiftsctp_socket, swiftsctp_bind, ...): the descriptors are this library's, not the
 * kernel's. Each is a real file descriptor of the process (kept open on /dev/null), so it
 * never collides with another one, but only these functions operate on it.
 *
 * Option names, flags and notification numbers have the values Linux gives them, so that
 * programs written against lksctp's <netinet/sctp.h> need few changes. The options this
 * library has are listed in docs/C-LIBRARY.md; the others fail with ENOPROTOOPT.
 * Every function reports failure as the kernel would: -1 with errno set, as RFC 6458 and
 * the sctp_connectx manual page name it.
 *
 * The library runs SCTP over UDP encapsulation (RFC 6951). Its UDP port is 9899 unless
 * the environment says otherwise when the first socket is made: SWIFTSCTP_UDP_PORT (0: any
 * free port, see swiftsctp_udp_port) and SWIFTSCTP_PEER_UDP_PORT (where INITs are sent).
 */
#ifndef SWIFTSCTP_H
#define SWIFTSCTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#ifndef SOL_SCTP
#define SOL_SCTP 132
#endif

typedef int32_t sctp_assoc_t;

/* sctp_assoc_t values naming groups of associations (RFC 6458 §7.2). */
#define SCTP_FUTURE_ASSOC 0
#define SCTP_CURRENT_ASSOC 1
#define SCTP_ALL_ASSOC 2

/* Socket options (level IPPROTO_SCTP). */
#define SCTP_RTOINFO 0
#define SCTP_ASSOCINFO 1
#define SCTP_INITMSG 2
#define SCTP_NODELAY 3
#define SCTP_AUTOCLOSE 4
#define SCTP_PRIMARY_ADDR 6
#define SCTP_ADAPTATION_LAYER 7
#define SCTP_MAXSEG 13
#define SCTP_STATUS 14
#define SCTP_EVENTS 11
#define SCTP_DISABLE_FRAGMENTS 8
#define SCTP_DELAYED_SACK 16
#define SCTP_DELAYED_ACK SCTP_DELAYED_SACK
#define SCTP_CONTEXT 17
#define SCTP_FRAGMENT_INTERLEAVE 18
#define SCTP_PARTIAL_DELIVERY_POINT 19
#define SCTP_MAX_BURST 20
#define SCTP_GET_ASSOC_NUMBER 28
#define SCTP_GET_ASSOC_ID_LIST 29
#define SCTP_PEER_ADDR_THLDS 31
#define SCTP_REUSE_PORT 36
#define SCTP_GET_ASSOC_STATS 112
#define SCTP_PR_SUPPORTED 113
#define SCTP_DEFAULT_PRINFO 114
#define SCTP_PR_ASSOC_STATUS 115
#define SCTP_PR_STREAM_STATUS 116
#define SCTP_ECN_SUPPORTED 130
#define SCTP_RECVRCVINFO 32
#define SCTP_RECVNXTINFO 33
#define SCTP_DEFAULT_SNDINFO 34
#define SCTP_EVENT 127
#define SCTP_REMOTE_UDP_ENCAPS_PORT 132
/* Ours: Linux has no SCTP_EXPLICIT_EOR, and FreeBSD's number (0x1b, 27) is Linux's
   SCTP_LOCAL_AUTH_CHUNKS, so it takes a number Linux does not use. An int: with it on,
   sends build a message that the send with SCTP_EOR (snd_flags, sinfo_flags) or MSG_EOR
   (the flags argument) completes. */
#define SCTP_EXPLICIT_EOR 200

/* sctp_bindx flags. */
#define SCTP_BINDX_ADD_ADDR 0x01
#define SCTP_BINDX_REM_ADDR 0x02

/* Message flags. */
#ifndef MSG_NOTIFICATION
#define MSG_NOTIFICATION 0x8000
#endif

/* snd_flags, sinfo_flags, rcv_flags, nxt_flags. */
#define SCTP_UNORDERED 0x0001
#define SCTP_ADDR_OVER 0x0002
#define SCTP_ABORT 0x0004
#define SCTP_SACK_IMMEDIATELY 0x0008
#define SCTP_SENDALL 0x0040
#define SCTP_EOR 0x0100 /* ends the message being built under SCTP_EXPLICIT_EOR */
#define SCTP_EOF 0x0200
#define SCTP_COMPLETE 0x0020 /* nxt_flags: FreeBSD's value (Linux has none) */
#define SCTP_NOTIFICATION 0x8000

/* pr_policy (RFC 6458 §5.3.7). */
#define SCTP_PR_SCTP_NONE 0x0000
#define SCTP_PR_SCTP_TTL 0x0010
#define SCTP_PR_SCTP_RTX 0x0020

/* sctp_sendv info types and sctp_sendv_spa flags (RFC 6458 §9.12). */
#define SCTP_SENDV_NOINFO 0
#define SCTP_SENDV_SNDINFO 1
#define SCTP_SENDV_PRINFO 2
#define SCTP_SENDV_AUTHINFO 3
#define SCTP_SENDV_SPA 4
#define SCTP_SEND_SNDINFO_VALID 0x00000001
#define SCTP_SEND_PRINFO_VALID 0x00000002
#define SCTP_SEND_AUTHINFO_VALID 0x00000004

/* sctp_recvv info types (RFC 6458 §9.13). */
#define SCTP_RECVV_NOINFO 0
#define SCTP_RECVV_RCVINFO 1
#define SCTP_RECVV_NXTINFO 2
#define SCTP_RECVV_RN 3

struct sctp_initmsg {
    uint16_t sinit_num_ostreams;
    uint16_t sinit_max_instreams;
    uint16_t sinit_max_attempts;
    uint16_t sinit_max_init_timeo;
};

struct sctp_rtoinfo {
    sctp_assoc_t srto_assoc_id;
    uint32_t srto_initial;
    uint32_t srto_max;
    uint32_t srto_min;
};

struct sctp_assoc_value {
    sctp_assoc_t assoc_id;
    uint32_t assoc_value;
};

struct sctp_sndrcvinfo {
    uint16_t sinfo_stream;
    uint16_t sinfo_ssn;
    uint16_t sinfo_flags;
    uint32_t sinfo_ppid;
    uint32_t sinfo_context;
    uint32_t sinfo_timetolive;
    uint32_t sinfo_tsn;
    uint32_t sinfo_cumtsn;
    sctp_assoc_t sinfo_assoc_id;
};

struct sctp_sndinfo {
    uint16_t snd_sid;
    uint16_t snd_flags;
    uint32_t snd_ppid;
    uint32_t snd_context;
    sctp_assoc_t snd_assoc_id;
};

struct sctp_rcvinfo {
    uint16_t rcv_sid;
    uint16_t rcv_ssn;
    uint16_t rcv_flags;
    uint32_t rcv_ppid;
    uint32_t rcv_tsn;
    uint32_t rcv_cumtsn;
    uint32_t rcv_context;
    sctp_assoc_t rcv_assoc_id;
};

struct sctp_nxtinfo {
    uint16_t nxt_sid;
    uint16_t nxt_flags;
    uint32_t nxt_ppid;
    uint32_t nxt_length;
    sctp_assoc_t nxt_assoc_id;
};

struct sctp_prinfo {
    uint16_t pr_policy;
    uint32_t pr_value;
};

struct sctp_authinfo {
    uint16_t auth_keynumber;
};

struct sctp_sendv_spa {
    uint32_t sendv_flags;
    struct sctp_sndinfo sendv_sndinfo;
    struct sctp_prinfo sendv_prinfo;
    struct sctp_authinfo sendv_authinfo;
};

struct sctp_recvv_rn {
    struct sctp_rcvinfo recvv_rcvinfo;
    struct sctp_nxtinfo recvv_nxtinfo;
};

/* SCTP_EVENT (RFC 6458 §6.2.2). */
struct sctp_event {
    sctp_assoc_t se_assoc_id;
    uint16_t se_type;
    uint8_t se_on;
};

/* SCTP_EVENTS (deprecated, RFC 6458 §6.2.1): one byte per kind, in this order. */
struct sctp_event_subscribe {
    uint8_t sctp_data_io_event;
    uint8_t sctp_association_event;
    uint8_t sctp_address_event;
    uint8_t sctp_send_failure_event;
    uint8_t sctp_peer_error_event;
    uint8_t sctp_shutdown_event;
    uint8_t sctp_partial_delivery_event;
    uint8_t sctp_adaptation_layer_event;
    uint8_t sctp_authentication_event;
    uint8_t sctp_sender_dry_event;
    uint8_t sctp_stream_reset_event;
    uint8_t sctp_assoc_reset_event;
    uint8_t sctp_stream_change_event;
    uint8_t sctp_send_failure_event_event;
};

/* SCTP_REMOTE_UDP_ENCAPS_PORT (RFC 6951 §6.1). */
struct sctp_udpencaps {
    sctp_assoc_t sue_assoc_id;
    struct sockaddr_storage sue_address;
    uint16_t sue_port;
};

/* sstat_state (Linux's numbers) */
#define SCTP_EMPTY 0
#define SCTP_CLOSED 1
#define SCTP_COOKIE_WAIT 2
#define SCTP_COOKIE_ECHOED 3
#define SCTP_ESTABLISHED 4
#define SCTP_SHUTDOWN_PENDING 5
#define SCTP_SHUTDOWN_SENT 6
#define SCTP_SHUTDOWN_RECEIVED 7
#define SCTP_SHUTDOWN_ACK_SENT 8

/* spinfo_state */
#define SCTP_INACTIVE 0
#define SCTP_PF 1
#define SCTP_ACTIVE 2
#define SCTP_UNCONFIRMED 3

/* SCTP_STATUS (RFC 6458 §8.2.1). */
struct sctp_paddrinfo {
    sctp_assoc_t spinfo_assoc_id;
    struct sockaddr_storage spinfo_address;
    int32_t spinfo_state;
    uint32_t spinfo_cwnd;
    uint32_t spinfo_srtt;
    uint32_t spinfo_rto;
    uint32_t spinfo_mtu;
} __attribute__((packed, aligned(4)));

struct sctp_status {
    sctp_assoc_t sstat_assoc_id;
    int32_t sstat_state;
    uint32_t sstat_rwnd;
    uint16_t sstat_unackdata;
    uint16_t sstat_penddata;
    uint16_t sstat_instrms;
    uint16_t sstat_outstrms;
    uint32_t sstat_fragmentation_point;
    struct sctp_paddrinfo sstat_primary;
};

/* SCTP_DELAYED_SACK (RFC 6458 §8.1.19): a zero field leaves that setting unchanged. */
struct sctp_sack_info {
    sctp_assoc_t sack_assoc_id;
    uint32_t sack_delay; /* milliseconds, at most 500 */
    uint32_t sack_freq;  /* 1: delayed SACK off */
};

/* SCTP_DEFAULT_PRINFO (RFC 6458 §8.1.32; Linux's field order). */
struct sctp_default_prinfo {
    sctp_assoc_t pr_assoc_id;
    uint32_t pr_value;
    uint16_t pr_policy;
};

/* SCTP_PR_ASSOC_STATUS / SCTP_PR_STREAM_STATUS (RFC 7496 §4). sprstat_policy:
   SCTP_PR_SCTP_TTL, SCTP_PR_SCTP_RTX or SCTP_PR_SCTP_ALL (every policy; this library's value). */
#define SCTP_PR_SCTP_ALL 0x0070
struct sctp_prstatus {
    sctp_assoc_t sprstat_assoc_id;
    uint16_t sprstat_sid;
    uint16_t sprstat_policy;
    uint64_t sprstat_abandoned_unsent;
    uint64_t sprstat_abandoned_sent;
};

/* SCTP_PEER_ADDR_THLDS (RFC 7829 §6): spt_address is ignored, the thresholds apply to
   every path of the association. */
struct sctp_paddrthlds {
    sctp_assoc_t spt_assoc_id;
    struct sockaddr_storage spt_address;
    uint16_t spt_pathmaxrxt;
    uint16_t spt_pathpfthld;
} __attribute__((packed, aligned(4)));

/* SCTP_GET_ASSOC_ID_LIST (RFC 6458 §8.2.6): give room for gaids_number_of_ids ids. */
struct sctp_assoc_ids {
    uint32_t gaids_number_of_ids;
    sctp_assoc_t gaids_assoc_id[];
};

/* SCTP_GET_ASSOC_STATS (Linux's layout): the counters swift-sctp keeps. Ordered and
   unordered DATA are not told apart (sas_oodchunks and sas_iodchunks have all of them, the
   unordered fields 0); sas_osacks, sas_outofseqtsns, sas_gapcnt and the control chunk
   counters are not kept (0); sas_maxrto is the largest RTO of the paths now. */
struct sctp_assoc_stats {
    sctp_assoc_t sas_assoc_id;
    struct sockaddr_storage sas_obs_rto_ipaddr;
    uint64_t sas_maxrto;
    uint64_t sas_isacks;
    uint64_t sas_osacks;
    uint64_t sas_opackets;
    uint64_t sas_ipackets;
    uint64_t sas_rtxchunks;
    uint64_t sas_outofseqtsns;
    uint64_t sas_idupchunks;
    uint64_t sas_gapcnt;
    uint64_t sas_ouodchunks;
    uint64_t sas_iuodchunks;
    uint64_t sas_oodchunks;
    uint64_t sas_iodchunks;
    uint64_t sas_octrlchunks;
    uint64_t sas_ictrlchunks;
};

/* Notifications (RFC 6458 §6.1): sn_type values. */
#define SCTP_SN_TYPE_BASE 0x8000
#define SCTP_DATA_IO_EVENT 0x8000
#define SCTP_ASSOC_CHANGE 0x8001
#define SCTP_PEER_ADDR_CHANGE 0x8002
#define SCTP_SEND_FAILED 0x8003
#define SCTP_REMOTE_ERROR 0x8004
#define SCTP_SHUTDOWN_EVENT 0x8005
#define SCTP_PARTIAL_DELIVERY_EVENT 0x8006
#define SCTP_ADAPTATION_INDICATION 0x8007
#define SCTP_AUTHENTICATION_EVENT 0x8008
#define SCTP_SENDER_DRY_EVENT 0x8009
#define SCTP_STREAM_RESET_EVENT 0x800a
#define SCTP_ASSOC_RESET_EVENT 0x800b
#define SCTP_STREAM_CHANGE_EVENT 0x800c
#define SCTP_SEND_FAILED_EVENT 0x800d

/* sac_state */
#define SCTP_COMM_UP 0
#define SCTP_COMM_LOST 1
#define SCTP_RESTART 2
#define SCTP_SHUTDOWN_COMP 3
#define SCTP_CANT_STR_ASSOC 4

/* spc_state */
#define SCTP_ADDR_AVAILABLE 0
#define SCTP_ADDR_UNREACHABLE 1
#define SCTP_ADDR_REMOVED 2
#define SCTP_ADDR_ADDED 3
#define SCTP_ADDR_MADE_PRIM 4
#define SCTP_ADDR_CONFIRMED 5
#define SCTP_ADDR_POTENTIALLY_FAILED 6

/* ssf_flags */
#define SCTP_DATA_UNSENT 0
#define SCTP_DATA_SENT 1

/* auth_indication */
#define SCTP_AUTH_NEW_KEY 0
#define SCTP_AUTH_FREE_KEY 1
#define SCTP_AUTH_NO_AUTH 2

/* strreset_flags, assocreset_flags, strchange_flags */
#define SCTP_STREAM_RESET_INCOMING_SSN 0x0001
#define SCTP_STREAM_RESET_OUTGOING_SSN 0x0002
#define SCTP_STREAM_RESET_DENIED 0x0004
#define SCTP_STREAM_RESET_FAILED 0x0008
#define SCTP_ASSOC_RESET_DENIED 0x0004
#define SCTP_ASSOC_RESET_FAILED 0x0008
#define SCTP_STREAM_CHANGE_DENIED 0x0004
#define SCTP_STREAM_CHANGE_FAILED 0x0008

struct sctp_assoc_change {
    uint16_t sac_type;
    uint16_t sac_flags;
    uint32_t sac_length;
    uint16_t sac_state;
    uint16_t sac_error;
    uint16_t sac_outbound_streams;
    uint16_t sac_inbound_streams;
    sctp_assoc_t sac_assoc_id;
    uint8_t sac_info[];
};

struct sctp_paddr_change {
    uint16_t spc_type;
    uint16_t spc_flags;
    uint32_t spc_length;
    struct sockaddr_storage spc_aaddr;
    int spc_state;
    int spc_error;
    sctp_assoc_t spc_assoc_id;
} __attribute__((packed, aligned(4)));

struct sctp_remote_error {
    uint16_t sre_type;
    uint16_t sre_flags;
    uint32_t sre_length;
    uint16_t sre_error; /* the first cause's code, network byte order */
    sctp_assoc_t sre_assoc_id;
    uint8_t sre_data[]; /* the causes as the peer sent them */
};

/* The older send failure notification (SCTP_SEND_FAILED), for programs that subscribe
 * with sctp_event_subscribe.sctp_send_failure_event or SCTP_EVENT SCTP_SEND_FAILED. */
struct sctp_send_failed {
    uint16_t ssf_type;
    uint16_t ssf_flags;
    uint32_t ssf_length;
    uint32_t ssf_error;
    struct sctp_sndrcvinfo ssf_info;
    sctp_assoc_t ssf_assoc_id;
    uint8_t ssf_data[];
};

struct sctp_send_failed_event {
    uint16_t ssf_type;
    uint16_t ssf_flags;
    uint32_t ssf_length;
    uint32_t ssf_error;
    struct sctp_sndinfo ssfe_info;
    sctp_assoc_t ssf_assoc_id;
    uint8_t ssf_data[];
};

struct sctp_shutdown_event {
    uint16_t sse_type;
    uint16_t sse_flags;
    uint32_t sse_length;
    sctp_assoc_t sse_assoc_id;
};

struct sctp_adaptation_event {
    uint16_t sai_type;
    uint16_t sai_flags;
    uint32_t sai_length;
    uint32_t sai_adaptation_ind;
    sctp_assoc_t sai_assoc_id;
};

struct sctp_pdapi_event {
    uint16_t pdapi_type;
    uint16_t pdapi_flags;
    uint32_t pdapi_length;
    uint32_t pdapi_indication;
    sctp_assoc_t pdapi_assoc_id;
    uint32_t pdapi_stream;
    uint32_t pdapi_seq;
};

struct sctp_authkey_event {
    uint16_t auth_type;
    uint16_t auth_flags;
    uint32_t auth_length;
    uint16_t auth_keynumber;
    uint16_t auth_altkeynumber;
    uint32_t auth_indication;
    sctp_assoc_t auth_assoc_id;
};

struct sctp_sender_dry_event {
    uint16_t sender_dry_type;
    uint16_t sender_dry_flags;
    uint32_t sender_dry_length;
    sctp_assoc_t sender_dry_assoc_id;
};

struct sctp_stream_reset_event {
    uint16_t strreset_type;
    uint16_t strreset_flags;
    uint32_t strreset_length;
    sctp_assoc_t strreset_assoc_id;
    uint16_t strreset_stream_list[];
};

struct sctp_assoc_reset_event {
    uint16_t assocreset_type;
    uint16_t assocreset_flags;
    uint32_t assocreset_length;
    sctp_assoc_t assocreset_assoc_id;
    uint32_t assocreset_local_tsn;
    uint32_t assocreset_remote_tsn;
};

struct sctp_stream_change_event {
    uint16_t strchange_type;
    uint16_t strchange_flags;
    uint32_t strchange_length;
    sctp_assoc_t strchange_assoc_id;
    uint16_t strchange_instrms;
    uint16_t strchange_outstrms;
};

union sctp_notification {
    struct {
        uint16_t sn_type;
        uint16_t sn_flags;
        uint32_t sn_length;
    } sn_header;
    struct sctp_assoc_change sn_assoc_change;
    struct sctp_paddr_change sn_paddr_change;
    struct sctp_remote_error sn_remote_error;
    struct sctp_send_failed sn_send_failed;
    struct sctp_shutdown_event sn_shutdown_event;
    struct sctp_adaptation_event sn_adaptation_event;
    struct sctp_pdapi_event sn_pdapi_event;
    struct sctp_authkey_event sn_authkey_event;
    struct sctp_sender_dry_event sn_sender_dry_event;
    struct sctp_stream_reset_event sn_strreset_event;
    struct sctp_assoc_reset_event sn_assocreset_event;
    struct sctp_stream_change_event sn_strchange_event;
    struct sctp_send_failed_event sn_send_failed_event;
};

/* --- The socket calls, on this library's descriptors. --- */

/* AF_INET or AF_INET6; SOCK_STREAM (one-to-one) or SOCK_SEQPACKET (one-to-many);
 * protocol IPPROTO_SCTP or 0. */
int swiftsctp_socket(int domain, int type, int protocol);
int swiftsctp_bind(int sd, const struct sockaddr *addr, socklen_t addrlen);
int swiftsctp_listen(int sd, int backlog);
int swiftsctp_accept(int sd, struct sockaddr *addr, socklen_t *addrlen);
int swiftsctp_connect(int sd, const struct sockaddr *addr, socklen_t addrlen);
/* SHUT_WR (or SHUT_RDWR): a graceful shutdown of a one-to-one socket's association. */
int swiftsctp_shutdown(int sd, int how);
int swiftsctp_close(int sd);
/* F_GETFL and F_SETFL with O_NONBLOCK. */
int swiftsctp_fcntl(int sd, int cmd, int arg);
int swiftsctp_setsockopt(int sd, int level, int optname, const void *optval, socklen_t optlen);
int swiftsctp_getsockopt(int sd, int level, int optname, void *optval, socklen_t *optlen);
/* The UDP port the library's SCTP packets use (after the first bind), or -1. */
int swiftsctp_udp_port(void);

/* --- RFC 6458 §9. --- */

int sctp_bindx(int sd, struct sockaddr *addrs, int addrcnt, int flags);
int sctp_connectx(int sd, struct sockaddr *addrs, int addrcnt, sctp_assoc_t *id);
int sctp_peeloff(int sd, sctp_assoc_t id);
int sctp_getpaddrs(int sd, sctp_assoc_t id, struct sockaddr **addrs);
void sctp_freepaddrs(struct sockaddr *addrs);
int sctp_getladdrs(int sd, sctp_assoc_t id, struct sockaddr **addrs);
void sctp_freeladdrs(struct sockaddr *addrs);
int sctp_opt_info(int sd, sctp_assoc_t id, int opt, void *arg, socklen_t *size);
ssize_t sctp_sendv(int sd, const struct iovec *iov, int iovcnt, struct sockaddr *addrs, int addrcnt,
                   void *info, socklen_t infolen, unsigned int infotype, int flags);
ssize_t sctp_recvv(int sd, const struct iovec *iov, int iovlen, struct sockaddr *from, socklen_t *fromlen,
                   void *info, socklen_t *infolen, unsigned int *infotype, int *flags);
ssize_t sctp_sendmsg(int sd, const void *msg, size_t len, struct sockaddr *to, socklen_t tolen, uint32_t ppid,
                     uint32_t flags, uint16_t stream_no, uint32_t timetolive, uint32_t context);
ssize_t sctp_recvmsg(int sd, void *msg, size_t len, struct sockaddr *from, socklen_t *fromlen,
                     struct sctp_sndrcvinfo *sinfo, int *msg_flags);

/* Internal: whether `length` bytes at `pointer` can be read (the EFAULT check). */
int swiftsctp_readable_memory(const void *pointer, size_t length);
/* Internal: whether `length` bytes at `pointer` can be written. */
int swiftsctp_writable_memory(void *pointer, size_t length);

#ifdef __cplusplus
}
#endif

#endif
