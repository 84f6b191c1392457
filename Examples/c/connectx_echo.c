/*
 * The sctp_connectx manual page's flow, in C against libswiftsctp:
 *
 *   connectx_echo server COUNT ADDRESS...
 *       A one-to-many socket bound (sctp_bindx) to every ADDRESS on a free port; prints
 *       "LISTENING <sctp port> <udp port>" and echoes COUNT messages on the stream and with
 *       the PPID they came with (sctp_recvv / sctp_sendv), reporting association changes.
 *
 *   connectx_echo client PORT COUNT ADDRESS...
 *       A one-to-one socket that sctp_connectx()s to every ADDRESS at PORT (the first ones
 *       may not answer: the INIT goes to each in turn), prints the association id and the
 *       peer's addresses (sctp_getpaddrs), sends COUNT messages on several streams, checks
 *       every echo (bytes, stream, PPID) and closes. Exit status 0 only if all is well.
 *
 *   connectx_echo errors PORT ADDRESS SILENT
 *       The errors the manual page lists, each provoked: EBADF, EFAULT, EINVAL,
 *       EAFNOSUPPORT, EWOULDBLOCK then EALREADY (non-blocking, to SILENT, an address where
 *       nothing answers, so that the attempt is still going on), ECONNREFUSED (PORT has no
 *       listener: run it with SWIFTSCTP_PEER_UDP_PORT set to a running server's UDP port,
 *       whose stack answers the INIT with ABORT), EADDRNOTAVAIL. Prints one line per
 *       check; exit status 0 if all hold.
 *
 *   connectx_echo interrupt SILENT
 *       EINTR: a signal handled without SA_RESTART interrupts a blocking sctp_recvv (the
 *       message sent afterwards is still read), swiftsctp_accept and sctp_connectx (to
 *       SILENT; the attempt goes on: a second sctp_connectx is EALREADY). A second thread
 *       sends SIGUSR1 to the blocked one every 100 ms until the call returns.
 *
 * Build: scripts/swiftsctp-cc Examples/c/connectx_echo.c -o connectx_echo
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swiftsctp.h"

static int parse(const char *text, int port, struct sockaddr_storage *out) {
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return (int)sizeof(*v4);
    }
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return (int)sizeof(*v6);
    }
    fprintf(stderr, "not an address: %s\n", text);
    exit(2);
}

/* Packs the addresses one after the other, as sctp_connectx and sctp_bindx take them. */
static struct sockaddr *pack(char **texts, int count, int port) {
    char *packed = calloc((size_t)count, sizeof(struct sockaddr_in6));
    size_t offset = 0;
    for (int i = 0; i < count; i++) {
        struct sockaddr_storage one;
        int size = parse(texts[i], port, &one);
        memcpy(packed + offset, &one, (size_t)size);
        offset += (size_t)size;
    }
    return (struct sockaddr *)packed;
}

static void show(const char *what, const struct sockaddr *address) {
    char text[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
        inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
        port = ntohs(v4->sin_port);
    } else if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
        inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
        port = ntohs(v6->sin6_port);
    }
    printf("%s %s %d\n", what, text, port);
}

static int server(int count, char **texts, int addresses) {
    int sd = swiftsctp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
    if (sd < 0) { perror("socket"); return 1; }
    struct sockaddr *packed = pack(texts, addresses, 0);
    if (sctp_bindx(sd, packed, addresses, SCTP_BINDX_ADD_ADDR) < 0) { perror("sctp_bindx"); return 1; }
    free(packed);
    if (swiftsctp_listen(sd, 16) < 0) { perror("listen"); return 1; }
    int on = 1;
    swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on));
    struct sctp_event event = { .se_assoc_id = SCTP_FUTURE_ASSOC, .se_type = SCTP_ASSOC_CHANGE, .se_on = 1 };
    if (swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_EVENT, &event, sizeof(event)) < 0) { perror("SCTP_EVENT"); return 1; }
    struct sockaddr *local = NULL;
    int n = sctp_getladdrs(sd, 0, &local);
    if (n < 1) { perror("sctp_getladdrs"); return 1; }
    int port = ntohs(((struct sockaddr_in *)local)->sin_port);
    sctp_freeladdrs(local);
    printf("LISTENING %d %d\n", port, swiftsctp_udp_port());
    fflush(stdout);

    static char buffer[1 << 16];
    int echoed = 0;
    while (echoed < count) {
        struct iovec iov = { .iov_base = buffer, .iov_len = sizeof(buffer) };
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        struct sctp_rcvinfo info;
        socklen_t infolen = sizeof(info);
        unsigned int infotype = 0;
        int flags = 0;
        ssize_t got = sctp_recvv(sd, &iov, 1, (struct sockaddr *)&from, &fromlen, &info, &infolen, &infotype, &flags);
        if (got < 0) { perror("sctp_recvv"); return 1; }
        if (flags & MSG_NOTIFICATION) {
            union sctp_notification *note = (union sctp_notification *)buffer;
            if (note->sn_header.sn_type == SCTP_ASSOC_CHANGE) {
                printf("ASSOC_CHANGE state=%d id=%d in=%d out=%d\n", note->sn_assoc_change.sac_state,
                       note->sn_assoc_change.sac_assoc_id, note->sn_assoc_change.sac_inbound_streams,
                       note->sn_assoc_change.sac_outbound_streams);
                fflush(stdout);
            }
            continue;
        }
        if (infotype != SCTP_RECVV_RCVINFO || !(flags & MSG_EOR)) {
            fprintf(stderr, "a message without its receive info or cut (infotype %u, flags 0x%x)\n", infotype, flags);
            return 1;
        }
        struct sctp_sndinfo reply = {
            .snd_sid = info.rcv_sid, .snd_ppid = info.rcv_ppid, .snd_assoc_id = info.rcv_assoc_id,
        };
        struct iovec out = { .iov_base = buffer, .iov_len = (size_t)got };
        if (sctp_sendv(sd, &out, 1, NULL, 0, &reply, sizeof(reply), SCTP_SENDV_SNDINFO, 0) != got) {
            perror("sctp_sendv");
            return 1;
        }
        echoed++;
    }
    printf("ECHOED %d\n", echoed);
    fflush(stdout);
    /* Wait for the client's shutdown before closing. */
    for (int i = 0; i < 100; i++) {
        struct iovec iov = { .iov_base = buffer, .iov_len = sizeof(buffer) };
        int flags = 0;
        struct timeval limit = { .tv_sec = 5 };
        swiftsctp_setsockopt(sd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
        ssize_t got = sctp_recvv(sd, &iov, 1, NULL, NULL, NULL, NULL, NULL, &flags);
        if (got < 0) { perror("waiting for the shutdown"); break; }
        if ((flags & MSG_NOTIFICATION) && ((union sctp_notification *)buffer)->sn_header.sn_type == SCTP_ASSOC_CHANGE
            && ((union sctp_notification *)buffer)->sn_assoc_change.sac_state == SCTP_SHUTDOWN_COMP) {
            printf("SHUTDOWN_COMP\n");
            break;
        }
    }
    return swiftsctp_close(sd) == 0 ? 0 : 1;
}

/* Options on the live association, each read back or shown in behaviour; one line each. */
static int check_options(int sd, sctp_assoc_t id, int count, uint32_t fragmentation_point) {
    int bad = 0;
#define CHECK(what, condition) do { int ok_ = (condition); printf("%s %s\n", ok_ ? "OPTION" : "OPTION-FAIL", what); if (!ok_) bad++; } while (0)
    socklen_t size;
    struct sctp_assoc_value value = { .assoc_id = id, .assoc_value = 7 };
    CHECK("SCTP_MAX_BURST set", swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_MAX_BURST, &value, sizeof(value)) == 0);
    value.assoc_value = 0;
    size = sizeof(value);
    CHECK("SCTP_MAX_BURST get", sctp_opt_info(sd, id, SCTP_MAX_BURST, &value, &size) == 0 && value.assoc_value == 7);
    struct sctp_sack_info sack = { .sack_assoc_id = id, .sack_delay = 300, .sack_freq = 0 };
    CHECK("SCTP_DELAYED_SACK set", swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_DELAYED_SACK, &sack, sizeof(sack)) == 0);
    memset(&sack, 0, sizeof(sack));
    size = sizeof(sack);
    CHECK("SCTP_DELAYED_SACK get (frequency unchanged)",
          sctp_opt_info(sd, id, SCTP_DELAYED_SACK, &sack, &size) == 0 && sack.sack_delay == 300 && sack.sack_freq == 2);
    sack.sack_delay = 501;
    CHECK("SCTP_DELAYED_SACK over 500 ms is EINVAL",
          swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_DELAYED_SACK, &sack, sizeof(sack)) < 0 && errno == EINVAL);
    value.assoc_value = 0xC0FFEE;
    CHECK("SCTP_CONTEXT set", swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_CONTEXT, &value, sizeof(value)) == 0);
    value.assoc_value = 0;
    size = sizeof(value);
    CHECK("SCTP_CONTEXT get", sctp_opt_info(sd, id, SCTP_CONTEXT, &value, &size) == 0 && value.assoc_value == 0xC0FFEE);
    size = sizeof(value);
    CHECK("SCTP_PR_SUPPORTED negotiated", sctp_opt_info(sd, id, SCTP_PR_SUPPORTED, &value, &size) == 0 && value.assoc_value == 1);
    struct { uint32_t number; sctp_assoc_t ids[4]; } list;
    size = sizeof(list);
    CHECK("SCTP_GET_ASSOC_ID_LIST",
          swiftsctp_getsockopt(sd, IPPROTO_SCTP, SCTP_GET_ASSOC_ID_LIST, &list, &size) == 0 && list.number == 1 && list.ids[0] == id);
    struct sctp_assoc_stats stats;
    memset(&stats, 0, sizeof(stats));
    size = sizeof(stats);
    CHECK("SCTP_GET_ASSOC_STATS counts the echoes",
          sctp_opt_info(sd, id, SCTP_GET_ASSOC_STATS, &stats, &size) == 0 && stats.sas_assoc_id == id
          && stats.sas_oodchunks >= (uint64_t)count && stats.sas_iodchunks >= (uint64_t)count && stats.sas_opackets >= (uint64_t)count / 2
          && stats.sas_ipackets >= (uint64_t)count / 2 && stats.sas_isacks >= 1 && stats.sas_maxrto >= 1
          && stats.sas_obs_rto_ipaddr.ss_family == AF_INET);
    struct sctp_prstatus pr = { .sprstat_assoc_id = id, .sprstat_policy = SCTP_PR_SCTP_ALL };
    size = sizeof(pr);
    CHECK("SCTP_PR_ASSOC_STATUS: nothing abandoned",
          sctp_opt_info(sd, id, SCTP_PR_ASSOC_STATUS, &pr, &size) == 0 && pr.sprstat_abandoned_sent == 0 && pr.sprstat_abandoned_unsent == 0);
    pr.sprstat_sid = 1000;
    size = sizeof(pr);
    CHECK("SCTP_PR_STREAM_STATUS of a stream it lacks is EINVAL", sctp_opt_info(sd, id, SCTP_PR_STREAM_STATUS, &pr, &size) < 0 && errno == EINVAL);
    /* SCTP_DISABLE_FRAGMENTS: a message above the fragmentation point fails with EMSGSIZE. */
    int on = 1;
    CHECK("SCTP_DISABLE_FRAGMENTS set", swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_DISABLE_FRAGMENTS, &on, sizeof(on)) == 0);
    static char big[4096];
    struct iovec iov = { big, fragmentation_point + 1 };
    struct sctp_sndinfo info = { .snd_sid = 0 };
    CHECK("SCTP_DISABLE_FRAGMENTS: EMSGSIZE above the fragmentation point",
          fragmentation_point + 1 <= sizeof(big) && sctp_sendv(sd, &iov, 1, NULL, 0, &info, sizeof(info), SCTP_SENDV_SNDINFO, 0) < 0
          && errno == EMSGSIZE);
    on = 0;
    swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_DISABLE_FRAGMENTS, &on, sizeof(on));
    /* SCTP_EXPLICIT_EOR: sends build one message, which MSG_EOR (the flags argument) or
       SCTP_EOR (snd_flags / sinfo_flags) ends; the peer echoes it whole. */
    on = 1;
    CHECK("SCTP_EXPLICIT_EOR set", swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_EXPLICIT_EOR, &on, sizeof(on)) == 0);
    on = 0;
    size = sizeof(on);
    CHECK("SCTP_EXPLICIT_EOR get", swiftsctp_getsockopt(sd, IPPROTO_SCTP, SCTP_EXPLICIT_EOR, &on, &size) == 0 && on == 1);
    static char piece[3000], echo[8192];
    for (size_t i = 0; i < sizeof(piece); i++) piece[i] = (char)(i * 13 + 5);
    struct sctp_sndinfo part = { .snd_sid = 1, .snd_ppid = htonl(77) }, other = { .snd_sid = 2, .snd_ppid = htonl(77) };
    struct iovec first = { piece, 1000 }, second = { piece + 1000, 2000 };
    int built = sctp_sendv(sd, &first, 1, NULL, 0, &part, sizeof(part), SCTP_SENDV_SNDINFO, 0) == 1000;
    CHECK("SCTP_EXPLICIT_EOR: another stream in the middle of a message is EINVAL",
          built && sctp_sendv(sd, &second, 1, NULL, 0, &other, sizeof(other), SCTP_SENDV_SNDINFO, MSG_EOR) < 0 && errno == EINVAL);
    built = built && sctp_sendv(sd, &second, 1, NULL, 0, &part, sizeof(part), SCTP_SENDV_SNDINFO, MSG_EOR) == 2000;
    /* The second message: a piece by sctp_sendv, the last by sctp_sendmsg with SCTP_EOR. */
    built = built && sctp_sendv(sd, &second, 1, NULL, 0, &part, sizeof(part), SCTP_SENDV_SNDINFO, 0) == 2000;
    built = built && sctp_sendmsg(sd, piece, 1000, NULL, 0, htonl(77), SCTP_EOR, 1, 0, 0) == 1000;
    int whole = built;
    for (int m = 0; m < 2 && whole; m++) {
        struct iovec in = { echo, sizeof(echo) };
        int flags = 0;
        ssize_t got = sctp_recvv(sd, &in, 1, NULL, NULL, NULL, NULL, NULL, &flags);
        whole = got == 3000 && (flags & MSG_EOR) && !(flags & MSG_NOTIFICATION)
            && memcmp(echo, m == 0 ? piece : piece + 1000, m == 0 ? 3000 : 2000) == 0
            && memcmp(echo + (m == 0 ? 3000 : 2000), piece, m == 0 ? 0 : 1000) == 0;
        if (!whole) fprintf(stderr, "explicit EOR echo %d: %zd bytes, flags 0x%x\n", m, got, flags);
    }
    CHECK("SCTP_EXPLICIT_EOR: two messages of two pieces each (MSG_EOR, SCTP_EOR) echo whole", whole);
    on = 0;
    CHECK("SCTP_EXPLICIT_EOR off", swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_EXPLICIT_EOR, &on, sizeof(on)) == 0);
#undef CHECK
    return bad;
}

static int client(int port, int count, char **texts, int addresses) {
    int sd = swiftsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    if (sd < 0) { perror("socket"); return 1; }
    /* Quick INIT retransmissions, so that an address that does not answer costs little. */
    struct sctp_rtoinfo rto = { .srto_initial = 200, .srto_min = 100, .srto_max = 400 };
    if (swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof(rto)) < 0) { perror("SCTP_RTOINFO"); return 1; }
    struct sctp_initmsg init = { .sinit_num_ostreams = 5, .sinit_max_instreams = 5, .sinit_max_attempts = 6 };
    if (swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init)) < 0) { perror("SCTP_INITMSG"); return 1; }
    struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = 0 };
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    if (swiftsctp_bind(sd, (struct sockaddr *)&local, sizeof(local)) < 0) { perror("bind"); return 1; }

    /* The association change notification, read below in pieces. */
    struct sctp_event_subscribe events;
    memset(&events, 0, sizeof(events));
    events.sctp_association_event = 1;
    if (swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_EVENTS, &events, sizeof(events)) < 0) { perror("SCTP_EVENTS"); return 1; }

    struct sockaddr *packed = pack(texts, addresses, port);
    sctp_assoc_t id = 0;
    if (sctp_connectx(sd, packed, addresses, &id) < 0) { perror("sctp_connectx"); return 1; }
    free(packed);
    printf("CONNECTED id=%d\n", id);

    /* SCTP_COMM_UP, 8 bytes per read: every piece has MSG_NOTIFICATION, the last MSG_EOR. */
    union sctp_notification note;
    size_t total = 0;
    for (int piece = 0; piece < 16; piece++) {
        struct iovec iov = { (char *)&note + total, 8 };
        int flags = 0;
        ssize_t got = sctp_recvv(sd, &iov, 1, NULL, NULL, NULL, NULL, NULL, &flags);
        if (got <= 0 || !(flags & MSG_NOTIFICATION)) { fprintf(stderr, "notification piece %d: %zd, flags 0x%x\n", piece, got, flags); return 1; }
        total += (size_t)got;
        if (flags & MSG_EOR) break;
    }
    printf("NOTIFICATION type=0x%x state=%d length=%u read=%zu\n", note.sn_header.sn_type, note.sn_assoc_change.sac_state,
           note.sn_header.sn_length, total);

    struct sockaddr *peers = NULL;
    int n = sctp_getpaddrs(sd, id, &peers);
    if (n < 1) { perror("sctp_getpaddrs"); return 1; }
    char *at = (char *)peers;
    for (int i = 0; i < n; i++) {
        show("PEER", (struct sockaddr *)at);
        at += ((struct sockaddr *)at)->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    }
    sctp_freepaddrs(peers);

    int on = 1;
    swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on));
    struct timeval limit = { .tv_sec = 10 };
    swiftsctp_setsockopt(sd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    static char sent[4000], received[1 << 16];
    for (int m = 0; m < count; m++) {
        size_t length = 1 + (size_t)(m * 37) % sizeof(sent);
        for (size_t i = 0; i < length; i++) sent[i] = (char)(m + i * 7);
        struct sctp_sndinfo info = { .snd_sid = (uint16_t)(m % 5), .snd_ppid = htonl(1000 + (uint32_t)m) };
        /* Two iovecs make one message. */
        struct iovec parts[2] = { { sent, length / 2 }, { sent + length / 2, length - length / 2 } };
        if (sctp_sendv(sd, parts, 2, NULL, 0, &info, sizeof(info), SCTP_SENDV_SNDINFO, 0) != (ssize_t)length) {
            perror("sctp_sendv");
            return 1;
        }
        struct iovec iov = { received, sizeof(received) };
        struct sctp_rcvinfo rcv;
        socklen_t infolen = sizeof(rcv);
        unsigned int infotype = 0;
        int flags = 0;
        ssize_t got = sctp_recvv(sd, &iov, 1, NULL, NULL, &rcv, &infolen, &infotype, &flags);
        if (got < 0) { perror("sctp_recvv"); return 1; }
        if ((size_t)got != length || memcmp(sent, received, length) != 0 || !(flags & MSG_EOR)
            || infotype != SCTP_RECVV_RCVINFO || rcv.rcv_sid != m % 5 || rcv.rcv_ppid != htonl(1000 + (uint32_t)m)) {
            fprintf(stderr, "echo %d wrong: %zd of %zu bytes, stream %u, ppid %u, flags 0x%x\n", m, got, length, rcv.rcv_sid,
                    ntohl(rcv.rcv_ppid), flags);
            return 1;
        }
    }
    printf("VERIFIED %d\n", count);
    struct sctp_status status;
    socklen_t size = sizeof(status);
    if (sctp_opt_info(sd, id, SCTP_STATUS, &status, &size) < 0) { perror("SCTP_STATUS"); return 1; }
    printf("STATUS state=%d out=%d in=%d\n", status.sstat_state, status.sstat_outstrms, status.sstat_instrms);
    if (check_options(sd, id, count, status.sstat_fragmentation_point) != 0) return 1;
    if (swiftsctp_shutdown(sd, SHUT_WR) < 0) { perror("shutdown"); return 1; }
    /* The end of the association reads as end of file, after the notifications
       subscribed to (the association's SHUTDOWN_COMP change among them). */
    ssize_t end = -1;
    for (int n = 0; n < 16; n++) {
        struct iovec iov = { received, sizeof(received) };
        int flags = 0;
        end = sctp_recvv(sd, &iov, 1, NULL, NULL, NULL, NULL, NULL, &flags);
        if (end <= 0 || !(flags & MSG_NOTIFICATION)) break;
        union sctp_notification note;
        memcpy(&note, received, (size_t)end < sizeof(note) ? (size_t)end : sizeof(note));
        if (note.sn_header.sn_type == SCTP_ASSOC_CHANGE)
            printf("NOTIFICATION type=0x%x state=%d\n", note.sn_header.sn_type, note.sn_assoc_change.sac_state);
    }
    printf("EOF %zd\n", end);
    return swiftsctp_close(sd) == 0 && end == 0 ? 0 : 1;
}

static int failures = 0;

/* Quick INIT retransmissions and few of them: a check that waits on INITs stays short. */
static int quick(int sd) {
    struct sctp_rtoinfo rto = { .srto_initial = 200, .srto_min = 100, .srto_max = 400 };
    struct sctp_initmsg init = { .sinit_max_attempts = 3 };
    swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof(rto));
    swiftsctp_setsockopt(sd, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init));
    return sd;
}

static void expect(const char *what, int result, int wanted) {
    int got = result < 0 ? errno : 0;
    printf("%s %s (%s)\n", got == wanted ? "OK" : "FAIL", what, got ? strerror(got) : "no error");
    if (got != wanted) failures++;
}

static int errors(int port, const char *address, const char *silent) {
    struct sockaddr_storage peer, nobody;
    parse(address, port, &peer);
    parse(silent, port, &nobody);
    sctp_assoc_t id;
    expect("EBADF", sctp_connectx(12345, (struct sockaddr *)&peer, 1, &id), EBADF);
    int sd = swiftsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    expect("EFAULT for addrs", sctp_connectx(sd, (struct sockaddr *)(uintptr_t)8, 1, &id), EFAULT);
    expect("EFAULT for a NULL addrs", sctp_connectx(sd, NULL, 1, &id), EFAULT);
    expect("EFAULT for id", sctp_connectx(sd, (struct sockaddr *)&peer, 1, (sctp_assoc_t *)(uintptr_t)8), EFAULT);
    expect("EINVAL for addrcnt 0", sctp_connectx(sd, (struct sockaddr *)&peer, 0, &id), EINVAL);
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    expect("EAFNOSUPPORT for IPv6 on an IPv4 socket", sctp_connectx(sd, (struct sockaddr *)&v6, 1, &id), EAFNOSUPPORT);
    struct sockaddr_storage unix_like = { .ss_family = AF_UNIX };
    expect("EAFNOSUPPORT for AF_UNIX", sctp_connectx(sd, (struct sockaddr *)&unix_like, 1, &id), EAFNOSUPPORT);
    swiftsctp_close(sd);

    /* Non-blocking: the attempt starts (EWOULDBLOCK), a second one while it goes on is EALREADY. */
    sd = quick(swiftsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
    int flags = swiftsctp_fcntl(sd, F_GETFL, 0);
    expect("F_SETFL O_NONBLOCK", swiftsctp_fcntl(sd, F_SETFL, flags | O_NONBLOCK), 0);
    id = 0;
    expect("EWOULDBLOCK for a non-blocking connectx", sctp_connectx(sd, (struct sockaddr *)&nobody, 1, &id), EWOULDBLOCK);
    printf("%s the id is set while the attempt goes on\n", id != 0 ? "OK" : "FAIL");
    if (id == 0) failures++;
    expect("EALREADY while it is in progress", sctp_connectx(sd, (struct sockaddr *)&nobody, 1, &id), EALREADY);
    swiftsctp_close(sd);

    sd = quick(swiftsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
    expect("ECONNREFUSED from a port without listener", sctp_connectx(sd, (struct sockaddr *)&peer, 1, &id), ECONNREFUSED);
    swiftsctp_close(sd);

    /* An IPv6 socket bound to an IPv4 address only, given only an IPv6 peer. */
    sd = swiftsctp_socket(AF_INET6, SOCK_STREAM, IPPROTO_SCTP);
    struct sockaddr_in local = { .sin_family = AF_INET };
    inet_pton(AF_INET, address, &local.sin_addr);
    expect("bind", swiftsctp_bind(sd, (struct sockaddr *)&local, sizeof(local)), 0);
    expect("EADDRNOTAVAIL for a family no local address has", sctp_connectx(sd, (struct sockaddr *)&v6, 1, &id), EADDRNOTAVAIL);
    swiftsctp_close(sd);
    expect("EBADF after close", swiftsctp_close(sd), EBADF);
    printf("FAILURES %d\n", failures);
    return failures == 0 ? 0 : 1;
}

/* EINTR: SIGUSR1 (no SA_RESTART) to the blocked thread every 100 ms until it returns. */
static pthread_t blocked_thread;
static volatile int call_returned;
static volatile sig_atomic_t handled;
static void on_signal(int number) { (void)number; handled++; }
static void *interrupter(void *unused) {
    (void)unused;
    for (int i = 0; i < 100 && !call_returned; i++) {
        struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 };
        nanosleep(&pause, NULL);
        if (!call_returned) pthread_kill(blocked_thread, SIGUSR1);
    }
    return NULL;
}
static pthread_t interrupt_soon(void) {
    call_returned = 0;
    blocked_thread = pthread_self();
    pthread_t thread;
    pthread_create(&thread, NULL, interrupter, NULL);
    return thread;
}
static void interrupted(pthread_t thread) {
    call_returned = 1;
    pthread_join(thread, NULL);
}

static int interrupt_checks(const char *silent) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; /* no SA_RESTART */
    sigaction(SIGUSR1, &action, NULL);

    int listener = swiftsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = 0 };
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    if (swiftsctp_bind(listener, (struct sockaddr *)&local, sizeof(local)) < 0 || swiftsctp_listen(listener, 4) < 0) {
        perror("listener");
        return 1;
    }
    struct sockaddr_storage bound;
    socklen_t size = sizeof(bound);
    struct sockaddr *addresses = NULL;
    if (sctp_getladdrs(listener, 0, &addresses) < 1) { perror("sctp_getladdrs"); return 1; }
    memcpy(&bound, addresses, sizeof(struct sockaddr_in));
    sctp_freeladdrs(addresses);
    (void)size;
    int port = ntohs(((struct sockaddr_in *)&bound)->sin_port);

    int sd = swiftsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
    sctp_assoc_t id;
    if (sctp_connectx(sd, (struct sockaddr *)&bound, 1, &id) < 0) { perror("sctp_connectx"); return 1; }
    int server = swiftsctp_accept(listener, NULL, NULL);
    if (server < 0) { perror("accept"); return 1; }

    static char buffer[256];
    struct iovec iov = { buffer, sizeof(buffer) };
    int flags = 0;
    pthread_t thread = interrupt_soon();
    ssize_t got = sctp_recvv(sd, &iov, 1, NULL, NULL, NULL, NULL, NULL, &flags);
    interrupted(thread);
    expect("EINTR from a blocking sctp_recvv", got < 0 ? -1 : 0, EINTR);
    /* Nothing was lost: the next message is read whole. */
    struct sctp_sndinfo info = { .snd_sid = 1 };
    struct iovec out = { "after", 5 };
    if (sctp_sendv(server, &out, 1, NULL, 0, &info, sizeof(info), SCTP_SENDV_SNDINFO, 0) != 5) { perror("sctp_sendv"); return 1; }
    got = sctp_recvv(sd, &iov, 1, NULL, NULL, NULL, NULL, NULL, &flags);
    expect("the message after the interruption", got == 5 && memcmp(buffer, "after", 5) == 0 ? 0 : -1, 0);

    thread = interrupt_soon();
    int accepted = swiftsctp_accept(listener, NULL, NULL);
    interrupted(thread);
    expect("EINTR from a blocking accept", accepted, EINTR);

    struct sockaddr_storage nobody;
    parse(silent, port, &nobody);
    int other = quick(swiftsctp_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
    thread = interrupt_soon();
    int result = sctp_connectx(other, (struct sockaddr *)&nobody, 1, &id);
    interrupted(thread);
    expect("EINTR from a blocking sctp_connectx", result, EINTR);
    expect("EALREADY: the interrupted attempt goes on", sctp_connectx(other, (struct sockaddr *)&nobody, 1, &id), EALREADY);
    printf("HANDLED %d\n", (int)handled);
    swiftsctp_close(other);
    swiftsctp_close(server);
    swiftsctp_close(sd);
    swiftsctp_close(listener);
    return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && strcmp(argv[1], "server") == 0) return server(atoi(argv[2]), argv + 3, argc - 3);
    if (argc >= 5 && strcmp(argv[1], "client") == 0) return client(atoi(argv[2]), atoi(argv[3]), argv + 4, argc - 4);
    if (argc == 5 && strcmp(argv[1], "errors") == 0) return errors(atoi(argv[2]), argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "interrupt") == 0) return interrupt_checks(argv[2]);
    fprintf(stderr, "usage: %s server COUNT ADDRESS... | client PORT COUNT ADDRESS... | errors PORT ADDRESS SILENT\n", argv[0]);
    return 2;
}
