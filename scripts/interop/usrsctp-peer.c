/*
 * usrsctp-peer: a usrsctp (user-space SCTP over UDP, RFC 6951) peer for the
 * interop tests of swift-sctp.  See scripts/interop/README.md for the command
 * line, the output lines and the message pattern.
 *
 * Rules it keeps:
 *  - every SCTP socket binds explicit addresses with usrsctp_bindx, never the
 *    wildcard: loopback (127.0.0.0/8, ::1) or the benchmarking range
 *    198.18.0.0/15, which tests configure only inside network namespaces of
 *    their own; anything else is refused;
 *  - usrsctp's debug output is off (stdout carries only our status lines);
 *  - no wait is unbounded: a watchdog thread ends the program with exit code 3
 *    when nothing has happened for --timeout seconds.
 *
 * Exit codes: 0 success, 1 verify/echo errors, 2 usage/setup error (including
 * a failed connect), 3 timeout, 4 (client) the association ended before the
 * client was done or ended abnormally.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <usrsctp.h>

/* Declared by usrsctp.h only when SCTP_DEBUG is defined; the library always has it. */
int usrsctp_sysctl_set_sctp_debug_on(uint32_t value);

#define PPID_BASE 0x50455246u /* "PERF" */
#define MIN_MSG_LEN 12
#define MAX_MSG_LEN (256u * 1024 * 1024)
#define MAX_ADDRS 16
#define MAX_STREAMS 65535
#define SEND_PIECE (64 * 1024)  /* explicit-EOR send granularity */
#define RX_SCRATCH (256 * 1024) /* buffer offered to recvv */

#define EXIT_OK 0
#define EXIT_ERRORS 1
#define EXIT_SETUP 2
#define EXIT_TIMEOUT 3
#define EXIT_INCOMPLETE 4

/* ------------------------------------------------------------ options */

struct addr {
	int family;
	struct in_addr v4;
	struct in6_addr v6;
	char text[INET6_ADDRSTRLEN];
};

struct options {
	int is_server;
	struct addr binds[MAX_ADDRS];
	int nbinds;
	struct addr connects[MAX_ADDRS];
	int nconnects;
	int port;          /* local SCTP port (0: ephemeral) */
	int remote_port;   /* client */
	int udp_port;      /* local UDP encapsulation port (0: pick) */
	int peer_udp_port; /* remote UDP encapsulation port */
	/* server */
	int mode_echo, mode_verify; /* --mode echo|discard|verify, --verify */
	int log_arrivals;  /* --log-arrivals: an ARRIVAL line per message */
	int assocs;
	int one_to_many;
	long long close_after, abort_after;
	/* client */
	long long messages;
	uint32_t len_min, len_max;
	uint64_t seed;
	int unordered;
	int echo;
	int abort_at_end;
	long long corrupt; /* -1: none; else index of a message sent with a wrong byte */
	/* common */
	int streams;
	int max_init_rtx;  /* -1: default */
	int rto_initial, rto_min, rto_max; /* 0: default */
	int path_max_retrans;  /* -1: default */
	int assoc_max_retrans; /* -1: default */
	int hb_interval;   /* -1: default, 0: heartbeats off */
	int mtu;           /* 0: default (PMTUD) */
	int nodelay;
	int interleaving;  /* --interleaving: offer I-DATA (RFC 8260) */
	int nr_sack;       /* --nr-sack: offer NR-SACK, with CMT and without reneging */
	int timeout;
	int blackhole;     /* -1: leave as is */
	int sndbuf, rcvbuf; /* 0: default */
	int debug;
	/* stream reconfiguration (RFC 6525) */
	int enable_reset;      /* --enable-reset: perform every request of the peer */
	long long reset_after; /* client: -1, or after this many messages ... */
	int reset_both;        /* ... reset outgoing and incoming streams (else outgoing) */
	int reset_assoc;       /* ... or an SSN/TSN reset */
	int add_streams;       /* ... and add this many outgoing streams */
	/* dynamic address reconfiguration (RFC 5061, ASCONF; usrsctp needs AUTH for it) */
	int asconf;                /* --asconf: announce ASCONF, SCTP_AUTO_ASCONF on */
	long long asconf_after;    /* client: -1, or after this many messages ... */
	struct addr asconf_add[MAX_ADDRS]; int nasconf_add;       /* ... bindx add these */
	struct addr asconf_set_primary[MAX_ADDRS]; int nasconf_set_primary; /* ... ask the peer to send to the first */
	struct addr asconf_delete[MAX_ADDRS]; int nasconf_delete; /* ... then bindx remove these */
	long long delete_after;    /* client: -1 (with the rest), or remove them after this many messages */
	/* chunk authentication (RFC 4895) */
	uint8_t auth_chunks[32]; /* --auth-chunks: types we ask the peer to authenticate */
	int nauth_chunks;
	uint8_t auth_key[256];   /* --auth-key HEX[:ID]: a shared key, made the active one */
	int auth_key_len;
	int auth_key_id;         /* -1: no key given (usrsctp's null key 0) */
	int hmac;                /* --hmac sha1|sha256: 0 leaves usrsctp's list */
};

static struct options opt;

/* ------------------------------------------------------------ output */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *
role(void)
{
	return opt.is_server ? "server" : "client";
}

/* A status line on stdout, flushed at once; ERROR lines go to stderr too. */
static void
out(const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&out_lock);
	fprintf(stdout, "%s\n", line);
	fflush(stdout);
	if (strncmp(line, "ERROR", 5) == 0)
		fprintf(stderr, "[usrsctp-peer %s] %s\n", role(), line);
	pthread_mutex_unlock(&out_lock);
}

/* Diagnostics: stderr only. */
static void
logmsg(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	fprintf(stderr, "[usrsctp-peer %s] ", role());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&out_lock);
}

static void
debug_printer(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
quit(int code)
{
	fflush(stdout);
	fflush(stderr);
	_exit(code);
}

/* ------------------------------------------------------------ statistics */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;

static struct {
	long long assocs;
	long long assocs_down;
	long long messages_sent;
	long long messages_received;
	long long bytes_received;
	long long verify_errors;
	long long echo_mismatches;
	double first_up;
	double last_down;
} st;

static void
print_result(void)
{
	double end, secs;

	pthread_mutex_lock(&g_lock);
	end = st.last_down > 0 ? st.last_down : now_s();
	secs = st.first_up > 0 ? end - st.first_up : 0.0;
	out("RESULT role=%s assocs=%lld messages_sent=%lld messages_received=%lld bytes_received=%lld "
	    "verify_errors=%lld echo_mismatches=%lld seconds=%.3f",
	    role(), st.assocs, st.messages_sent, st.messages_received, st.bytes_received,
	    st.verify_errors, st.echo_mismatches, secs);
	pthread_mutex_unlock(&g_lock);
}

/* ------------------------------------------------------------ watchdog */

/*
 * Every blocking call is bracketed by wd_wait(label) / wd_progress().  The
 * watchdog ends the program (exit 3) when no blocking call has returned for
 * --timeout seconds, naming what the threads were waiting for.
 */
static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static double wd_last;
static const char *wd_label[2] = { "start", NULL };
static __thread int wd_slot; /* 0: main thread, 1: client receiver thread */
static int wd_off;

static void
wd_wait(const char *label)
{
	pthread_mutex_lock(&wd_lock);
	wd_label[wd_slot] = label;
	pthread_mutex_unlock(&wd_lock);
}

static void
wd_progress(void)
{
	pthread_mutex_lock(&wd_lock);
	wd_last = now_s();
	pthread_mutex_unlock(&wd_lock);
}

static void *
watchdog(void *arg)
{
	(void)arg;
	for (;;) {
		sleep_ms(100);
		pthread_mutex_lock(&wd_lock);
		if (!wd_off && now_s() - wd_last > (double)opt.timeout) {
			out("ERROR timeout after %d s without progress waiting for %s%s%s", opt.timeout,
			    wd_label[0] ? wd_label[0] : "-", wd_label[1] ? " / receiver: " : "",
			    wd_label[1] ? wd_label[1] : "");
			logmsg("at timeout: assocs=%lld messages_sent=%lld messages_received=%lld "
			       "bytes_received=%lld verify_errors=%lld echo_mismatches=%lld",
			       st.assocs, st.messages_sent, st.messages_received, st.bytes_received,
			       st.verify_errors, st.echo_mismatches);
			quit(EXIT_TIMEOUT);
		}
		pthread_mutex_unlock(&wd_lock);
	}
	return NULL;
}

/* ------------------------------------------------------------ addresses */

static int
parse_addr(const char *s, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->v4) == 1) {
		uint32_t host = ntohl(a->v4.s_addr);
		a->family = AF_INET;
		/* Loopback, or the benchmarking range 198.18.0.0/15 (RFC 2544), which the
		 * multi-homing tests configure only inside network namespaces of their own. */
		if ((host >> 24) != 127 && (host >> 17) != (0xC612u >> 1))
			return -1;
	} else if (inet_pton(AF_INET6, s, &a->v6) == 1) {
		a->family = AF_INET6;
		if (!IN6_IS_ADDR_LOOPBACK(&a->v6))
			return -1;
	} else {
		return -1;
	}
	snprintf(a->text, sizeof(a->text), "%s", s);
	return 0;
}

static void
usage(const char *why)
{
	if (why)
		out("ERROR usage %s", why);
	fprintf(stderr,
	        "usage:\n"
	        "  usrsctp-peer server --bind A[,B...] --port P --udp-port U --peer-udp-port V\n"
	        "      [--mode echo|discard|verify] [--verify] [--assocs N] [--one-to-many]\n"
	        "      [--close-after N] [--abort-after N] [--log-arrivals]\n"
	        "  usrsctp-peer client --bind A[,B...] [--port P] --udp-port U --peer-udp-port V\n"
	        "      --connect A[,B...] --remote-port Q [--messages N] [--length L|MIN-MAX]\n"
	        "      [--seed S] [--unordered] [--echo] [--abort-at-end] [--corrupt I]\n"
	        "  common: [--streams K] [--max-init-retransmits N] [--rto-initial MS]\n"
	        "      [--rto-min MS] [--rto-max MS] [--path-max-retrans N] [--assoc-max-retrans N]\n"
	        "      [--hb-interval MS] [--mtu BYTES] [--nodelay] [--sndbuf B] [--rcvbuf B]\n"
	        "      [--interleaving] [--timeout S] [--blackhole 0|1|2]\n"
	        "      [--no-debug] [--debug] [--nr-sack]\n"
	        "  reconfiguration: [--enable-reset] [--reset-after N [--reset-both] [--reset-assoc]\n"
	        "      [--add-streams K]]\n"
	        "  address reconfiguration (RFC 5061; usrsctp requires AUTH): [--asconf]\n"
	        "      [--asconf-after N [--add-address A[,B...]] [--set-primary A] [--delete-address A[,B...]]\n"
	        "      [--delete-after M]]\n"
	        "  authentication (RFC 4895): [--auth-chunks DATA,SACK,...] [--auth-key HEX[:ID]]\n"
	        "      [--hmac sha1|sha256]\n"
	        "Addresses must be loopback (127.0.0.0/8, ::1) or in 198.18.0.0/15 (namespaces of a test).\n");
	quit(EXIT_SETUP);
}

static void
parse_addr_list(const char *list, struct addr *arr, int *n, const char *optname)
{
	char *copy = strdup(list), *save = NULL, *tok;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char msg[128];
		if (*n >= MAX_ADDRS) {
			snprintf(msg, sizeof(msg), "too many addresses for %s", optname);
			usage(msg);
		}
		if (parse_addr(tok, &arr[*n]) < 0) {
			snprintf(msg, sizeof(msg), "%s: %s is neither loopback nor in 198.18.0.0/15", optname, tok);
			usage(msg);
		}
		(*n)++;
	}
	free(copy);
}

static long long
parse_num(const char *s, const char *optname, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end != '\0' || v < min || v > max) {
		char msg[160];
		snprintf(msg, sizeof(msg), "bad value '%s' for %s (%lld..%lld)", s, optname, min, max);
		usage(msg);
	}
	return v;
}

/* Packs addresses (sockaddr_in / sockaddr_in6 back to back, as usrsctp_bindx
 * and usrsctp_connectx expect) with the given port; returns the byte count. */
static size_t
pack_addrs(const struct addr *arr, int n, uint16_t port, char *buf)
{
	size_t off = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (arr[i].family == AF_INET) {
			struct sockaddr_in sin;
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			sin.sin_port = htons(port);
			sin.sin_addr = arr[i].v4;
			memcpy(buf + off, &sin, sizeof(sin));
			off += sizeof(sin);
		} else {
			struct sockaddr_in6 sin6;
			memset(&sin6, 0, sizeof(sin6));
			sin6.sin6_family = AF_INET6;
			sin6.sin6_port = htons(port);
			sin6.sin6_addr = arr[i].v6;
			memcpy(buf + off, &sin6, sizeof(sin6));
			off += sizeof(sin6);
		}
	}
	return off;
}

/* "a,b,c" from a packed list as returned by usrsctp_getpaddrs/getladdrs;
 * *port gets the port of the first address. */
static void
format_addrs(const struct sockaddr *addrs, int n, char *out_buf, size_t size, uint16_t *port)
{
	const char *p = (const char *)addrs;
	size_t used = 0;
	int i;

	out_buf[0] = '\0';
	for (i = 0; i < n; i++) {
		char text[INET6_ADDRSTRLEN] = "?";
		struct sockaddr sa;
		memcpy(&sa, p, sizeof(sa));
		if (sa.sa_family == AF_INET) {
			struct sockaddr_in sin;
			memcpy(&sin, p, sizeof(sin));
			inet_ntop(AF_INET, &sin.sin_addr, text, sizeof(text));
			if (i == 0 && port)
				*port = ntohs(sin.sin_port);
			p += sizeof(sin);
		} else if (sa.sa_family == AF_INET6) {
			struct sockaddr_in6 sin6;
			memcpy(&sin6, p, sizeof(sin6));
			inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof(text));
			if (i == 0 && port)
				*port = ntohs(sin6.sin6_port);
			p += sizeof(sin6);
		} else {
			break;
		}
		used += (size_t)snprintf(out_buf + used, size > used ? size - used : 0, "%s%s",
		                         i ? "," : "", text);
		if (used >= size)
			break;
	}
}

static void
sockaddr_text(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)size);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)size);
	else
		snprintf(buf, size, "?");
}

/* Checks that a UDP port is free on the first --bind address (and with port 0
 * picks a free one), so that usrsctp_init does not silently run without its
 * UDP socket. */
static int
check_udp_port(const struct addr *a, int want, uint16_t *got)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, e;

	memset(&ss, 0, sizeof(ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)want);
		sin->sin_addr = a->v4;
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)want);
		sin6->sin6_addr = a->v6;
		len = sizeof(*sin6);
	}
	fd = socket(a->family, SOCK_DGRAM, 0);
	if (fd < 0)
		return errno;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		e = errno;
		close(fd);
		return e;
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		e = errno;
		close(fd);
		return e;
	}
	*got = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                     : ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return 0;
}

/* ------------------------------------------------------------ message pattern */

static uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t
get_be16(const uint8_t *p)
{
	return (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
fill_message(uint8_t *m, uint32_t len, uint32_t seq, uint16_t sid)
{
	uint32_t i;
	uint8_t b;

	put_be32(m, seq);
	m[4] = (uint8_t)(sid >> 8);
	m[5] = (uint8_t)sid;
	m[6] = 0xA5;
	m[7] = 0x5A;
	put_be32(m + 8, len);
	b = (uint8_t)(seq * 7u + (uint32_t)sid * 13u + 12u);
	for (i = 12; i < len; i++)
		m[i] = b++;
}

/* splitmix64: lengths of --length MIN-MAX are MIN + next() % (MAX - MIN + 1). */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------ associations */

/* A message being put together from the pieces recvv returns. */
struct part {
	int active;
	uint16_t sid;
	int unordered;
	uint8_t *buf;
	size_t cap, len;
	struct sctp_rcvinfo info; /* of its first piece */
};

struct assoc {
	sctp_assoc_t id;
	int up;           /* ASSOC_UP printed */
	int down;         /* ASSOC_DOWN printed */
	int ended;        /* receive side saw the end (EOF / error / CANT_STR_ASSOC) */
	int end_errno;
	int refused;      /* CANT_STR_ASSOC with an ABORT from the peer */
	int cant_start;
	const char *down_reason;
	int closing;      /* we started a graceful close (--close-after) */
	int local_abort;  /* we aborted it */
	int echo_failed;
	int peer_shutdown;
	long long messages;
	uint32_t *next_seq; /* per stream: next expected sequence number (ordered) */
	int errors_logged;
	/* messages being received, one per (stream, unordered): see rx_next */
	struct part *parts;
	int nparts;
};

static struct assoc **assoc_table;
static int assoc_count;

static struct assoc *
assoc_new(sctp_assoc_t id)
{
	struct assoc *a = calloc(1, sizeof(*a));

	if (a == NULL || (a->next_seq = calloc(MAX_STREAMS + 1, sizeof(uint32_t))) == NULL) {
		out("ERROR setup out of memory");
		quit(EXIT_SETUP);
	}
	a->id = id;
	assoc_table = realloc(assoc_table, sizeof(*assoc_table) * (size_t)(assoc_count + 1));
	if (assoc_table == NULL) {
		out("ERROR setup out of memory");
		quit(EXIT_SETUP);
	}
	assoc_table[assoc_count++] = a;
	return a;
}

static struct assoc *
assoc_find(sctp_assoc_t id)
{
	int i;

	for (i = assoc_count - 1; i >= 0; i--)
		if (assoc_table[i]->id == id)
			return assoc_table[i];
	return NULL;
}

/* Prints PEER_AUTH_CHUNKS: the chunk types the peer asked us to authenticate (RFC 4895),
 * "none" when it does not use AUTH. */
static void
log_peer_auth_chunks(struct socket *s, sctp_assoc_t id)
{
	char buf[sizeof(struct sctp_authchunks) + 256];
	struct sctp_authchunks *ac = (struct sctp_authchunks *)buf;
	socklen_t len = sizeof(buf);
	char list[1024] = "";
	size_t used = 0, k, count;

	memset(buf, 0, sizeof(buf));
	ac->gauth_assoc_id = id;
	if (usrsctp_getsockopt(s, IPPROTO_SCTP, SCTP_PEER_AUTH_CHUNKS, ac, &len) < 0) {
		out("PEER_AUTH_CHUNKS assoc=%u none errno=%d", (unsigned)id, errno);
		return;
	}
	count = len > sizeof(struct sctp_authchunks) ? len - sizeof(struct sctp_authchunks) : 0;
	{
		/* usrsctp 0.9.5 writes a 32-bit count before the types (its header leaves
		 * gauth_number_of_chunks out): skip it when it is there. */
		const uint8_t *types = ac->gauth_chunks;
		uint32_t n;
		if (count >= sizeof(n)) {
			memcpy(&n, types, sizeof(n));
			if (n == count - sizeof(n)) {
				types += sizeof(n);
				count -= sizeof(n);
			}
		}
		for (k = 0; k < count && used + 8 < sizeof(list); k++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%u", k ? "," : "", types[k]);
	}
	out("PEER_AUTH_CHUNKS assoc=%u chunks=%s", (unsigned)id, count ? list : "none");
}

/* Prints ASSOC_UP once per association. */
static void
assoc_up(struct socket *s, struct assoc *a, sctp_assoc_t id, unsigned in, unsigned outs)
{
	struct sockaddr *addrs = NULL;
	char peers[512] = "";
	int n;

	pthread_mutex_lock(&g_lock);
	if (a->up) {
		pthread_mutex_unlock(&g_lock);
		return;
	}
	a->up = 1;
	a->id = id;
	st.assocs++;
	if (st.first_up == 0)
		st.first_up = now_s();
	pthread_mutex_unlock(&g_lock);

	n = usrsctp_getpaddrs(s, id, &addrs);
	if (n > 0) {
		format_addrs(addrs, n, peers, sizeof(peers), NULL);
		usrsctp_freepaddrs(addrs);
	}
	out("ASSOC_UP assoc=%u in=%u out=%u peers=%s", (unsigned)id, in, outs, peers);
	log_peer_auth_chunks(s, id);
	pthread_mutex_lock(&g_lock);
	pthread_cond_broadcast(&g_cond);
	pthread_mutex_unlock(&g_lock);
}

/* Prints ASSOC_DOWN once per association that came up. */
static void
assoc_down(struct assoc *a, const char *reason)
{
	int print = 0;

	pthread_mutex_lock(&g_lock);
	if (a->up && !a->down) {
		a->down = 1;
		a->down_reason = reason;
		st.assocs_down++;
		st.last_down = now_s();
		print = 1;
	}
	pthread_cond_broadcast(&g_cond);
	pthread_mutex_unlock(&g_lock);
	if (print)
		out("ASSOC_DOWN assoc=%u reason=%s", (unsigned)a->id, reason);
}

static const char *
reason_from_errno(int e)
{
	switch (e) {
	case ECONNRESET:
		return "abort";
	case ETIMEDOUT:
	case ECONNABORTED:
		return "lost";
	case ECONNREFUSED:
		return "refused";
	default:
		return "error";
	}
}

/* ------------------------------------------------------------ sockets */

static int sock_family; /* AF_INET, or AF_INET6 when any address is IPv6 */

static int
setopt(struct socket *s, int level, int name, const void *val, socklen_t len, const char *what)
{
	if (usrsctp_setsockopt(s, level, name, val, len) < 0) {
		int e = errno;
		out("ERROR setsockopt %s errno=%d %s", what, e, strerror(e));
		return -1;
	}
	return 0;
}

static void
wildcard_storage(struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (sock_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
	}
}

static int
set_encaps_port(struct socket *s, sctp_assoc_t id)
{
	struct sctp_udpencaps enc;

	memset(&enc, 0, sizeof(enc));
	wildcard_storage(&enc.sue_address);
	enc.sue_assoc_id = id;
	enc.sue_port = htons((uint16_t)opt.peer_udp_port);
	return setopt(s, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &enc, sizeof(enc),
	              "SCTP_REMOTE_UDP_ENCAPS_PORT");
}

static int
get_encaps_port(struct socket *s, sctp_assoc_t id)
{
	struct sctp_udpencaps enc;
	socklen_t len = sizeof(enc);

	memset(&enc, 0, sizeof(enc));
	wildcard_storage(&enc.sue_address);
	enc.sue_assoc_id = id;
	if (usrsctp_getsockopt(s, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &enc, &len) < 0)
		return -1;
	return ntohs(enc.sue_port);
}

/* usrsctp 0.9.5 implements SCTP_INTERLEAVING_SUPPORTED (RFC 8260 section 4.3.1)
 * but its public header does not declare it. */
#ifndef SCTP_INTERLEAVING_SUPPORTED
#define SCTP_INTERLEAVING_SUPPORTED 0x00001206
#endif

/* --interleaving: new associations offer I-DATA (and I-FORWARD-TSN with PR-SCTP).
 * RFC 8260 section 4.3.1: fragment interleave level 2 first, else EINVAL. Set on the
 * sockets we create; accepted ones inherit it. */
static int
set_interleaving(struct socket *s)
{
	int level = 2;
	struct sctp_assoc_value av;

	if (setopt(s, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level, sizeof(level), "SCTP_FRAGMENT_INTERLEAVE") < 0)
		return -1;
	memset(&av, 0, sizeof(av));
	av.assoc_id = SCTP_FUTURE_ASSOC;
	av.assoc_value = 1;
	return setopt(s, IPPROTO_SCTP, SCTP_INTERLEAVING_SUPPORTED, &av, sizeof(av), "SCTP_INTERLEAVING_SUPPORTED");
}

static int set_asconf_opts(struct socket *s); /* address reconfiguration, below */
/* --auth-chunks, --auth-key, --hmac (RFC 4895): set on the sockets we create (endpoint-wide,
 * so associations set up through them, accepted ones included, take them). */
static int
set_auth(struct socket *s)
{
	int k;

	for (k = 0; k < opt.nauth_chunks; k++) {
		struct sctp_authchunk ac;
		ac.sauth_chunk = opt.auth_chunks[k];
		if (setopt(s, IPPROTO_SCTP, SCTP_AUTH_CHUNK, &ac, sizeof(ac), "SCTP_AUTH_CHUNK") < 0)
			return -1;
	}
	if (opt.hmac) {
		char buf[sizeof(struct sctp_hmacalgo) + 2 * sizeof(uint16_t)];
		struct sctp_hmacalgo *h = (struct sctp_hmacalgo *)buf;
		h->shmac_number_of_idents = opt.hmac == SCTP_AUTH_HMAC_ID_SHA1 ? 1 : 2;
		h->shmac_idents[0] = (uint16_t)opt.hmac;
		h->shmac_idents[1] = SCTP_AUTH_HMAC_ID_SHA1;
		if (setopt(s, IPPROTO_SCTP, SCTP_HMAC_IDENT, h,
		           (socklen_t)(sizeof(struct sctp_hmacalgo) + h->shmac_number_of_idents * sizeof(uint16_t)),
		           "SCTP_HMAC_IDENT") < 0)
			return -1;
	}
	if (opt.auth_key_id >= 0) {
		char buf[sizeof(struct sctp_authkey) + sizeof(opt.auth_key)];
		struct sctp_authkey *key = (struct sctp_authkey *)buf;
		struct sctp_authkeyid active;
		memset(buf, 0, sizeof(buf));
		key->sca_assoc_id = SCTP_FUTURE_ASSOC;
		key->sca_keynumber = (uint16_t)opt.auth_key_id;
		key->sca_keylength = (uint16_t)opt.auth_key_len;
		memcpy(key->sca_key, opt.auth_key, (size_t)opt.auth_key_len);
		if (setopt(s, IPPROTO_SCTP, SCTP_AUTH_KEY, key, (socklen_t)(sizeof(struct sctp_authkey) + (size_t)opt.auth_key_len),
		           "SCTP_AUTH_KEY") < 0)
			return -1;
		memset(&active, 0, sizeof(active));
		active.scact_assoc_id = SCTP_FUTURE_ASSOC;
		active.scact_keynumber = (uint16_t)opt.auth_key_id;
		if (setopt(s, IPPROTO_SCTP, SCTP_AUTH_ACTIVE_KEY, &active, sizeof(active), "SCTP_AUTH_ACTIVE_KEY") < 0)
			return -1;
	}
	return 0;
}

/* --auth-chunks LIST: names (DATA, SACK, HEARTBEAT, HEARTBEAT-ACK, ABORT, SHUTDOWN,
 * SHUTDOWN-ACK, ERROR, COOKIE-ECHO, COOKIE-ACK, ECNE, CWR, I-DATA, FORWARD-TSN, RE-CONFIG,
 * ASCONF, ASCONF-ACK) or numbers, separated by commas. */
static void
parse_auth_chunks(const char *v)
{
	static const struct { const char *name; uint8_t type; } names[] = {
		{ "DATA", 0 }, { "SACK", 3 }, { "HEARTBEAT", 4 }, { "HEARTBEAT-ACK", 5 }, { "ABORT", 6 },
		{ "SHUTDOWN", 7 }, { "SHUTDOWN-ACK", 8 }, { "ERROR", 9 }, { "COOKIE-ECHO", 10 }, { "COOKIE-ACK", 11 },
		{ "ECNE", 12 }, { "CWR", 13 }, { "I-DATA", 64 }, { "FORWARD-TSN", 192 }, { "RE-CONFIG", 130 },
		{ "ASCONF", 0xC1 }, { "ASCONF-ACK", 0x80 },
	};
	char copy[512], *item, *save = NULL;
	size_t k;

	snprintf(copy, sizeof(copy), "%s", v);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		int found = 0;
		if (opt.nauth_chunks >= (int)sizeof(opt.auth_chunks))
			usage("--auth-chunks: too many");
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if (!strcasecmp(item, names[k].name)) {
				opt.auth_chunks[opt.nauth_chunks++] = names[k].type;
				found = 1;
				break;
			}
		}
		if (!found)
			opt.auth_chunks[opt.nauth_chunks++] = (uint8_t)parse_num(item, "--auth-chunks", 0, 255);
	}
}

/* --auth-key HEX[:ID]: the key's bytes in hex (an even number of digits, or "" for an empty
 * key) and its number (default 1). */
static void
parse_auth_key(const char *v)
{
	const char *colon = strchr(v, ':');
	size_t digits = colon ? (size_t)(colon - v) : strlen(v), k;

	if (digits % 2 != 0 || digits / 2 > sizeof(opt.auth_key))
		usage("--auth-key: an even number of hex digits, at most 512");
	for (k = 0; k < digits / 2; k++) {
		char byte[3] = { v[2 * k], v[2 * k + 1], 0 };
		char *end;
		long value = strtol(byte, &end, 16);
		if (*end != 0)
			usage("--auth-key: not hex");
		opt.auth_key[k] = (uint8_t)value;
	}
	opt.auth_key_len = (int)(digits / 2);
	opt.auth_key_id = colon ? (int)parse_num(colon + 1, "--auth-key", 0, 65535) : 1;
}

/* Options that a socket needs whether it is created by us or by accept. */
static int
set_common_opts(struct socket *s)
{
	int on = 1;
	uint16_t ev_types[] = { SCTP_ASSOC_CHANGE, SCTP_PEER_ADDR_CHANGE, SCTP_SHUTDOWN_EVENT,
	                        SCTP_REMOTE_ERROR, SCTP_PARTIAL_DELIVERY_EVENT, SCTP_STREAM_RESET_EVENT,
	                        SCTP_ASSOC_RESET_EVENT, SCTP_STREAM_CHANGE_EVENT, SCTP_AUTHENTICATION_EVENT };
	size_t i;

	if (setopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on), "SCTP_RECVRCVINFO") < 0)
		return -1;
	/* Messages are sent in pieces of SEND_PIECE bytes with SCTP_EOR on the last
	 * one: without explicit EOR usrsctp refuses (EMSGSIZE) any message larger
	 * than the send buffer. */
	if (setopt(s, IPPROTO_SCTP, SCTP_EXPLICIT_EOR, &on, sizeof(on), "SCTP_EXPLICIT_EOR") < 0)
		return -1;
	if (opt.nodelay && setopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on), "SCTP_NODELAY") < 0)
		return -1;
	for (i = 0; i < sizeof(ev_types) / sizeof(ev_types[0]); i++) {
		struct sctp_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.se_assoc_id = SCTP_FUTURE_ASSOC;
		ev.se_type = ev_types[i];
		ev.se_on = 1;
		if (setopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev), "SCTP_EVENT") < 0)
			return -1;
	}
	if (set_asconf_opts(s) < 0)
		return -1;
	if (opt.enable_reset) {
		struct sctp_assoc_value av;
		memset(&av, 0, sizeof(av));
		av.assoc_id = SCTP_FUTURE_ASSOC;
		av.assoc_value = SCTP_ENABLE_RESET_STREAM_REQ | SCTP_ENABLE_RESET_ASSOC_REQ | SCTP_ENABLE_CHANGE_ASSOC_REQ;
		if (setopt(s, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, sizeof(av), "SCTP_ENABLE_STREAM_RESET") < 0)
			return -1;
	}
	return 0;
}

static struct socket *
make_socket(int type, uint16_t *bound_port)
{
	struct socket *s;
	char buf[MAX_ADDRS * sizeof(struct sockaddr_in6)];
	size_t len;
	struct sockaddr *laddrs = NULL;
	int n;
	uint16_t port = 0;

	s = usrsctp_socket(sock_family, type, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (s == NULL) {
		out("ERROR socket errno=%d %s", errno, strerror(errno));
		quit(EXIT_SETUP);
	}
	/* --peer-udp-port 0 (server only): leave it unset; usrsctp answers each
	 * path on the UDP port the peer's packets come from. */
	if (opt.peer_udp_port != 0 && set_encaps_port(s, SCTP_FUTURE_ASSOC) < 0)
		quit(EXIT_SETUP);
	{
		struct sctp_initmsg init;
		memset(&init, 0, sizeof(init));
		init.sinit_num_ostreams = (uint16_t)opt.streams;
		init.sinit_max_instreams = (uint16_t)opt.streams;
		if (opt.max_init_rtx >= 0)
			init.sinit_max_attempts = (uint16_t)opt.max_init_rtx;
		if (setopt(s, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init), "SCTP_INITMSG") < 0)
			quit(EXIT_SETUP);
	}
	if (opt.rto_initial || opt.rto_min || opt.rto_max) {
		struct sctp_rtoinfo rto;
		memset(&rto, 0, sizeof(rto)); /* 0: leave that value as it is */
		rto.srto_assoc_id = SCTP_FUTURE_ASSOC;
		rto.srto_initial = (uint32_t)opt.rto_initial;
		rto.srto_min = (uint32_t)opt.rto_min;
		rto.srto_max = (uint32_t)opt.rto_max;
		if (setopt(s, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof(rto), "SCTP_RTOINFO") < 0)
			quit(EXIT_SETUP);
	}
	if (opt.hb_interval >= 0 || opt.path_max_retrans >= 0 || opt.mtu > 0) {
		struct sctp_paddrparams pp;
		memset(&pp, 0, sizeof(pp));
		wildcard_storage(&pp.spp_address);
		pp.spp_assoc_id = SCTP_FUTURE_ASSOC;
		if (opt.hb_interval > 0) {
			pp.spp_hbinterval = (uint32_t)opt.hb_interval;
			pp.spp_flags |= SPP_HB_ENABLE;
		} else if (opt.hb_interval == 0) {
			pp.spp_flags |= SPP_HB_DISABLE;
		}
		if (opt.path_max_retrans >= 0)
			pp.spp_pathmaxrxt = (uint16_t)opt.path_max_retrans;
		if (opt.mtu > 0) {
			pp.spp_pathmtu = (uint32_t)opt.mtu;
			pp.spp_flags |= SPP_PMTUD_DISABLE;
		}
		if (setopt(s, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof(pp), "SCTP_PEER_ADDR_PARAMS") < 0)
			quit(EXIT_SETUP);
	}
	if (opt.assoc_max_retrans >= 0) {
		struct sctp_assocparams ap;
		memset(&ap, 0, sizeof(ap));
		ap.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
		ap.sasoc_asocmaxrxt = (uint16_t)opt.assoc_max_retrans;
		if (setopt(s, IPPROTO_SCTP, SCTP_ASSOCINFO, &ap, sizeof(ap), "SCTP_ASSOCINFO") < 0)
			quit(EXIT_SETUP);
	}
	if (opt.sndbuf > 0 && setopt(s, SOL_SOCKET, SO_SNDBUF, &opt.sndbuf, sizeof(int), "SO_SNDBUF") < 0)
		quit(EXIT_SETUP);
	if (opt.rcvbuf > 0 && setopt(s, SOL_SOCKET, SO_RCVBUF, &opt.rcvbuf, sizeof(int), "SO_RCVBUF") < 0)
		quit(EXIT_SETUP);
	if (opt.interleaving && set_interleaving(s) < 0)
		quit(EXIT_SETUP);
	if (set_auth(s) < 0)
		quit(EXIT_SETUP);
	if (set_common_opts(s) < 0)
		quit(EXIT_SETUP);

	/* Bind the first address (with --port, maybe 0), read the port back, then
	 * add the others with that port.  Never the wildcard. */
	len = pack_addrs(opt.binds, 1, (uint16_t)opt.port, buf);
	(void)len;
	if (usrsctp_bindx(s, (struct sockaddr *)buf, 1, SCTP_BINDX_ADD_ADDR) < 0) {
		out("ERROR bind %s port %d errno=%d %s", opt.binds[0].text, opt.port, errno, strerror(errno));
		quit(EXIT_SETUP);
	}
	n = usrsctp_getladdrs(s, 0, &laddrs);
	if (n > 0) {
		char text[256];
		format_addrs(laddrs, n, text, sizeof(text), &port);
		usrsctp_freeladdrs(laddrs);
	}
	if (port == 0) {
		out("ERROR bind could not read back the local SCTP port (getladdrs returned %d)", n);
		quit(EXIT_SETUP);
	}
	if (opt.nbinds > 1) {
		pack_addrs(opt.binds + 1, opt.nbinds - 1, port, buf);
		if (usrsctp_bindx(s, (struct sockaddr *)buf, opt.nbinds - 1, SCTP_BINDX_ADD_ADDR) < 0) {
			out("ERROR bind additional addresses errno=%d %s", errno, strerror(errno));
			quit(EXIT_SETUP);
		}
	}
	*bound_port = port;
	return s;
}

/* Sends one message; with explicit EOR on, in pieces, SCTP_EOR on the last. */
static int
send_message(struct socket *s, sctp_assoc_t id, const uint8_t *m, size_t len, uint16_t sid,
             uint32_t ppid_net, int unordered, const char *label)
{
	size_t off = 0;

	wd_wait(label);
	while (off < len) {
		struct sctp_sndinfo snd;
		size_t piece = len - off > SEND_PIECE ? SEND_PIECE : len - off;
		ssize_t r;

		memset(&snd, 0, sizeof(snd));
		snd.snd_sid = sid;
		snd.snd_ppid = ppid_net;
		snd.snd_assoc_id = id;
		snd.snd_flags = (uint16_t)((unordered ? SCTP_UNORDERED : 0) | (off + piece == len ? SCTP_EOR : 0));
		r = usrsctp_sendv(s, m + off, piece, NULL, 0, &snd, sizeof(snd), SCTP_SENDV_SNDINFO, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* usrsctp refuses (EAGAIN) to send on a stream whose reset is pending, even
			 * on a blocking socket: wait for the reset to finish (the watchdog bounds it). */
			if (errno == EAGAIN && (opt.reset_after >= 0 || opt.enable_reset)) {
				static int told;
				if (!told++)
					logmsg("send: EAGAIN on stream %u (a stream reset is pending); retrying", sid);
				usleep(1000);
				continue;
			}
			wd_progress();
			return -1;
		}
		off += (size_t)r;
		wd_progress();
	}
	return 0;
}

/* Flags-only send (SCTP_EOF / SCTP_ABORT) for one-to-many associations. */
static int
send_flags(struct socket *s, sctp_assoc_t id, uint16_t flags)
{
	struct sctp_sndinfo snd;
	static const char none[1]; /* usrsctp_sendv refuses a NULL buffer (EFAULT) */

	memset(&snd, 0, sizeof(snd));
	snd.snd_assoc_id = id;
	snd.snd_flags = flags;
	wd_wait(flags == SCTP_ABORT ? "abort" : "shutdown");
	if (usrsctp_sendv(s, none, 0, NULL, 0, &snd, sizeof(snd), SCTP_SENDV_SNDINFO, 0) < 0) {
		wd_progress();
		return -1;
	}
	wd_progress();
	return 0;
}

/* ------------------------------------------------------------ receiving */

struct rxbuf {
	int dontwait;     /* recv with MSG_DONTWAIT, wait for the upcall (client receiver) */
	uint8_t *buf;     /* what one recvv returns */
	size_t cap;
	struct assoc *msg_assoc; /* RX_MSG: the association and */
	struct part *msg;        /* the complete message (caller calls part_done) */
	uint8_t *notif;          /* RX_NOTIF */
	size_t notif_len;
	int err;                 /* RX_ERR */
};

enum { RX_MSG, RX_NOTIF, RX_EOF, RX_ERR, RX_STOPPED };

/*
 * The client's receiver thread does not block inside usrsctp_recvv: a thread
 * blocked there cannot be woken without ending the association (shutdown
 * SHUT_RD does not wake it in usrsctp 0.9.5), and the main thread must be able
 * to stop it before it closes the socket with SO_LINGER 0.  So it receives
 * with MSG_DONTWAIT and waits here, woken by the socket's upcall or rx_stop.
 */
static pthread_mutex_t up_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t up_cond = PTHREAD_COND_INITIALIZER;
static int up_flag, rx_stop;

static void
rx_upcall(struct socket *s, void *arg, int flags)
{
	(void)s;
	(void)arg;
	(void)flags;
	pthread_mutex_lock(&up_lock);
	up_flag = 1;
	pthread_cond_broadcast(&up_cond);
	pthread_mutex_unlock(&up_lock);
}

static void
rx_request_stop(void)
{
	pthread_mutex_lock(&up_lock);
	rx_stop = 1;
	pthread_cond_broadcast(&up_cond);
	pthread_mutex_unlock(&up_lock);
}

/* Returns 1 when asked to stop. */
static int
rx_wait_upcall(void)
{
	int stop;

	pthread_mutex_lock(&up_lock);
	if (!up_flag && !rx_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L; /* fallback poll, should an upcall be missed */
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&up_cond, &up_lock, &ts);
	}
	up_flag = 0;
	stop = rx_stop;
	pthread_mutex_unlock(&up_lock);
	return stop;
}

/* The part collecting the message of (sid, unordered) of an association. */
static struct part *
part_for(struct assoc *a, uint16_t sid, int unordered)
{
	struct part *free_part = NULL;
	int i;

	for (i = 0; i < a->nparts; i++) {
		struct part *p = &a->parts[i];
		if (p->active && p->sid == sid && p->unordered == unordered)
			return p;
		if (!p->active && free_part == NULL)
			free_part = p;
	}
	if (free_part == NULL) {
		struct part *np = realloc(a->parts, sizeof(*np) * (size_t)(a->nparts + 1));
		if (np == NULL) {
			out("ERROR receive out of memory");
			quit(EXIT_SETUP);
		}
		a->parts = np;
		free_part = &a->parts[a->nparts++];
		memset(free_part, 0, sizeof(*free_part));
	}
	free_part->active = 1;
	free_part->sid = sid;
	free_part->unordered = unordered;
	free_part->len = 0;
	return free_part;
}

static void
part_append(struct part *p, const uint8_t *data, size_t n)
{
	if (p->cap - p->len < n) {
		size_t ncap = p->cap ? p->cap : 4096;
		uint8_t *nb;
		while (ncap < p->len + n)
			ncap *= 2;
		if (p->len + n > (size_t)MAX_MSG_LEN) {
			out("ERROR receive message larger than %u bytes", MAX_MSG_LEN);
			quit(EXIT_ERRORS);
		}
		nb = realloc(p->buf, ncap);
		if (nb == NULL) {
			out("ERROR receive out of memory");
			quit(EXIT_SETUP);
		}
		p->buf = nb;
		p->cap = ncap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
}

static void
part_done(struct part *p)
{
	p->active = 0;
	p->len = 0;
}

/*
 * Receives until a message is complete (RX_MSG), a notification (RX_NOTIF),
 * the end (RX_EOF / RX_ERR) or, for the client's receiver, a stop request.
 *
 * Pieces of large messages (partial delivery) are collected per association
 * and per stream: on a one-to-many socket usrsctp 0.9.5 interleaves pieces of
 * messages of different associations (fragment interleave level 1, its
 * default) and, once more than one association is receiving, even of
 * different streams of one association.  `single` is the association of a
 * one-to-one socket; NULL looks the association up by rcv_assoc_id.
 */
static int
rx_next(struct socket *s, struct rxbuf *rx, struct assoc *single, const char *label)
{
	if (rx->buf == NULL) {
		rx->cap = RX_SCRATCH;
		rx->buf = malloc(rx->cap);
		if (rx->buf == NULL) {
			out("ERROR receive out of memory");
			quit(EXIT_SETUP);
		}
	}
	for (;;) {
		struct sctp_rcvinfo info;
		socklen_t infolen = sizeof(info);
		unsigned int infotype = 0;
		int flags, e, unordered;
		ssize_t r;
		struct assoc *a;
		struct part *p;

		memset(&info, 0, sizeof(info));
		wd_wait(label);
		flags = rx->dontwait ? MSG_DONTWAIT : 0;
		r = usrsctp_recvv(s, rx->buf, rx->cap, NULL, NULL, &info, &infolen, &infotype, &flags);
		e = errno;
		if (r < 0 && rx->dontwait && (e == EWOULDBLOCK || e == EAGAIN)) {
			if (rx_wait_upcall())
				return RX_STOPPED;
			continue;
		}
		wd_progress();
		if (r < 0) {
			if (e == EINTR)
				continue;
			rx->err = e;
			return RX_ERR;
		}
		if (r == 0)
			return RX_EOF;
		if (flags & MSG_NOTIFICATION) {
			if (!(flags & MSG_EOR))
				logmsg("notification of %zd bytes without MSG_EOR (truncated)", r);
			rx->notif = rx->buf;
			rx->notif_len = (size_t)r;
			return RX_NOTIF;
		}
		if (infotype != SCTP_RECVV_RCVINFO)
			logmsg("data without rcvinfo (infotype %u)", infotype);
		a = single;
		if (a == NULL && (a = assoc_find(info.rcv_assoc_id)) == NULL) {
			logmsg("data for unknown assoc %u", (unsigned)info.rcv_assoc_id);
			a = assoc_new(info.rcv_assoc_id);
		}
		unordered = (info.rcv_flags & SCTP_UNORDERED) != 0;
		p = part_for(a, info.rcv_sid, unordered);
		if (p->len == 0)
			p->info = info;
		part_append(p, rx->buf, (size_t)r);
		if (flags & MSG_EOR) {
			rx->msg_assoc = a;
			rx->msg = p;
			return RX_MSG;
		}
	}
}

/* ------------------------------------------------------------ verification */

/*
 * Checks a message against the pattern; returns 0 or fills why.  One error
 * per message; an ordered stream's expected sequence number advances past a
 * bad message, so that one bad message is counted once.
 */
static int
verify_message(struct assoc *a, const uint8_t *m, size_t len, uint16_t sid, uint32_t ppid,
               int unordered, char *why, size_t whylen)
{
	uint32_t seq, flen, i, expected = 0;
	uint16_t fsid;
	uint8_t b;
	int order_ok = 1;

	if (len < MIN_MSG_LEN || get_be32(m + 8) != len || get_be16(m + 4) != sid || m[6] != 0xA5 ||
	    m[7] != 0x5A) {
		if (!unordered)
			a->next_seq[sid]++;
		if (len < MIN_MSG_LEN)
			snprintf(why, whylen, "message of %zu bytes on stream %u is shorter than %d", len, sid,
			         MIN_MSG_LEN);
		else if ((flen = get_be32(m + 8)) != len)
			snprintf(why, whylen, "length field %u != received length %zu (stream %u)", flen, len, sid);
		else if ((fsid = get_be16(m + 4)) != sid)
			snprintf(why, whylen, "stream field %u != arrival stream %u", fsid, sid);
		else
			snprintf(why, whylen, "marker bytes %02x %02x != a5 5a (stream %u)", m[6], m[7], sid);
		return -1;
	}
	seq = get_be32(m);
	fsid = sid;
	if (!unordered) {
		expected = a->next_seq[sid];
		a->next_seq[sid] = seq + 1;
		order_ok = seq == expected;
	}
	if (ppid != PPID_BASE + (unordered ? 1u : 0u)) {
		snprintf(why, whylen, "PPID 0x%08x does not match %s delivery (stream %u seq %u)", ppid,
		         unordered ? "unordered" : "ordered", sid, seq);
		return -1;
	}
	b = (uint8_t)(seq * 7u + (uint32_t)fsid * 13u + 12u);
	for (i = 12; i < len; i++, b++) {
		if (m[i] != b) {
			snprintf(why, whylen, "byte %u is 0x%02x, expected 0x%02x (stream %u seq %u length %zu)", i,
			         m[i], b, sid, seq, len);
			return -1;
		}
	}
	if (!order_ok) {
		snprintf(why, whylen, "ordered stream %u: seq %u, expected %u", sid, seq, expected);
		return -1;
	}
	return 0;
}

static void
count_error(struct assoc *a, long long *counter, const char *kind, const char *why)
{
	pthread_mutex_lock(&g_lock);
	(*counter)++;
	pthread_mutex_unlock(&g_lock);
	if (a->errors_logged++ < 10)
		logmsg("%s error (assoc %u): %s", kind, (unsigned)a->id, why);
	else if (a->errors_logged == 11)
		logmsg("(further %s errors of assoc %u not shown)", kind, (unsigned)a->id);
}

/* ------------------------------------------------------------ notifications */

/* SCTP_ASSOC_RESET_EVENTs seen (under g_lock). */
static int assoc_resets;

static void
on_notification(struct socket *s, struct assoc *single, const uint8_t *p, size_t n)
{
	union sctp_notification notif;
	struct assoc *a;

	if (n < sizeof(struct sctp_tlv))
		return;
	memset(&notif, 0, sizeof(notif));
	memcpy(&notif, p, n < sizeof(notif) ? n : sizeof(notif));

	switch (notif.sn_header.sn_type) {
	case SCTP_ASSOC_CHANGE: {
		const struct sctp_assoc_change *sac = &notif.sn_assoc_change;
		/* From the peer, COMM_LOST / CANT_STR_ASSOC carry its ABORT chunk (type 6). */
		int with_abort = n > sizeof(struct sctp_assoc_change) &&
		                 p[sizeof(struct sctp_assoc_change)] == 6;

		a = single ? single : assoc_find(sac->sac_assoc_id);
		if (a == NULL)
			a = assoc_new(sac->sac_assoc_id);
		switch (sac->sac_state) {
		case SCTP_COMM_UP:
			assoc_up(s, a, sac->sac_assoc_id, sac->sac_inbound_streams, sac->sac_outbound_streams);
			break;
		case SCTP_RESTART:
			logmsg("assoc %u restarted (in=%u out=%u)", (unsigned)sac->sac_assoc_id,
			       sac->sac_inbound_streams, sac->sac_outbound_streams);
			break;
		case SCTP_COMM_LOST:
			logmsg("assoc %u: COMM_LOST error=%u%s", (unsigned)sac->sac_assoc_id, sac->sac_error,
			       with_abort ? " (ABORT from the peer)" : "");
			assoc_down(a, a->local_abort ? "local_abort" : with_abort ? "abort" : "lost");
			break;
		case SCTP_SHUTDOWN_COMP:
			assoc_down(a, "shutdown");
			break;
		case SCTP_CANT_STR_ASSOC:
			logmsg("assoc %u: CANT_STR_ASSOC error=%u%s", (unsigned)sac->sac_assoc_id, sac->sac_error,
			       with_abort ? " (ABORT from the peer)" : "");
			pthread_mutex_lock(&g_lock);
			a->cant_start = 1;
			a->refused = with_abort;
			pthread_cond_broadcast(&g_cond);
			pthread_mutex_unlock(&g_lock);
			break;
		default:
			logmsg("assoc %u: assoc change state %u", (unsigned)sac->sac_assoc_id, sac->sac_state);
		}
		break;
	}
	case SCTP_PEER_ADDR_CHANGE: {
		const struct sctp_paddr_change *spc = &notif.sn_paddr_change;
		static const char *names[] = { "?", "available", "unreachable", "removed", "added",
		                               "primary", "confirmed", "potentially_failed" };
		char text[INET6_ADDRSTRLEN];
		sockaddr_text(&spc->spc_aaddr, text, sizeof(text));
		out("PATH assoc=%u addr=%s state=%s", (unsigned)spc->spc_assoc_id, text,
		    spc->spc_state < sizeof(names) / sizeof(names[0]) ? names[spc->spc_state] : "?");
		break;
	}
	case SCTP_SHUTDOWN_EVENT:
		a = single ? single : assoc_find(notif.sn_shutdown_event.sse_assoc_id);
		if (a)
			a->peer_shutdown = 1;
		logmsg("assoc %u: peer sent SHUTDOWN", (unsigned)notif.sn_shutdown_event.sse_assoc_id);
		break;
	case SCTP_REMOTE_ERROR:
		logmsg("assoc %u: remote error %u", (unsigned)notif.sn_remote_error.sre_assoc_id,
		       ntohs(notif.sn_remote_error.sre_error));
		break;
	case SCTP_STREAM_RESET_EVENT: {
		const struct sctp_stream_reset_event *e = (const struct sctp_stream_reset_event *)p;
		char list[512];
		size_t count = 0, k, used = 0;
		if (n >= sizeof(*e))
			count = (n - sizeof(*e)) / sizeof(uint16_t);
		list[0] = 0;
		for (k = 0; k < count && used + 8 < sizeof(list); k++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%u", k ? "," : "",
			                         e->strreset_stream_list[k]);
		out("STREAM_RESET assoc=%u flags=0x%x streams=%s", (unsigned)e->strreset_assoc_id, e->strreset_flags,
		    count ? list : "all");
		break;
	}
	case SCTP_ASSOC_RESET_EVENT: {
		const struct sctp_assoc_reset_event *e = &notif.sn_assocreset_event;
		pthread_mutex_lock(&g_lock);
		assoc_resets++;
		pthread_cond_broadcast(&g_cond);
		pthread_mutex_unlock(&g_lock);
		out("ASSOC_RESET assoc=%u flags=0x%x local_tsn=%u remote_tsn=%u", (unsigned)e->assocreset_assoc_id,
		    e->assocreset_flags, e->assocreset_local_tsn, e->assocreset_remote_tsn);
		break;
	}
	case SCTP_STREAM_CHANGE_EVENT: {
		const struct sctp_stream_change_event *e = &notif.sn_strchange_event;
		out("STREAM_CHANGE assoc=%u flags=0x%x in=%u out=%u", (unsigned)e->strchange_assoc_id, e->strchange_flags,
		    e->strchange_instrms, e->strchange_outstrms);
		break;
	}
	case SCTP_AUTHENTICATION_EVENT: {
		const struct sctp_authkey_event *e = &notif.sn_auth_event;
		out("AUTH_EVENT assoc=%u indication=%u key=%u", (unsigned)e->auth_assoc_id, (unsigned)e->auth_indication,
		    e->auth_keynumber);
		break;
	}
	case SCTP_PARTIAL_DELIVERY_EVENT:
		logmsg("assoc %u: partial delivery event %u (stream %u)",
		       (unsigned)notif.sn_pdapi_event.pdapi_assoc_id, notif.sn_pdapi_event.pdapi_indication,
		       notif.sn_pdapi_event.pdapi_stream);
		break;
	default:
		logmsg("notification type %u", notif.sn_header.sn_type);
	}
}

/* ------------------------------------------------------------ reconfiguration */

/* --reset-after: resets all streams (outgoing, or both ways with --reset-both) or the
 * association (--reset-assoc), then adds --add-streams outgoing streams. Each request
 * is printed (RECONFIG_REQUEST what=... errno=...); the outcome arrives as a
 * notification (STREAM_RESET, ASSOC_RESET, STREAM_CHANGE). */
static void
client_reconfigure(struct socket *s)
{
	int rc;
	if (opt.reset_assoc) {
		sctp_assoc_t id = 0;
		int tries;
		/* usrsctp refuses (EBUSY) while anything it sent is unacknowledged: retry. */
		for (tries = 0; tries < 10000; tries++) {
			rc = usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RESET_ASSOC, &id, sizeof(id));
			if (rc == 0 || errno != EBUSY)
				break;
			usleep(1000);
		}
		out("RECONFIG_REQUEST what=assoc errno=%d", rc < 0 ? errno : 0);
		/* No new data until the answer (RFC 6525 §5.1.4: data sent meanwhile is lost by
		 * the reset); usrsctp itself does not hold it back. Bounded by the watchdog. */
		if (rc == 0) {
			int waited;
			pthread_mutex_lock(&g_lock);
			for (waited = 0; assoc_resets == 0 && waited < opt.timeout; waited++) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += 1;
				pthread_cond_timedwait(&g_cond, &g_lock, &ts);
			}
			pthread_mutex_unlock(&g_lock);
		}
	} else {
		struct sctp_reset_streams srs;
		memset(&srs, 0, sizeof(srs));
		srs.srs_flags = SCTP_STREAM_RESET_OUTGOING | (opt.reset_both ? SCTP_STREAM_RESET_INCOMING : 0);
		srs.srs_number_streams = 0;
		rc = usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RESET_STREAMS, &srs, sizeof(srs));
		out("RECONFIG_REQUEST what=streams errno=%d", rc < 0 ? errno : 0);
	}
	if (opt.add_streams > 0) {
		struct sctp_add_streams sas;
		int tries;
		memset(&sas, 0, sizeof(sas));
		sas.sas_outstrms = (uint16_t)opt.add_streams;
		/* usrsctp takes one request at a time (EALREADY while the reset is outstanding). */
		for (tries = 0; tries < 10000; tries++) {
			rc = usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_ADD_STREAMS, &sas, sizeof(sas));
			if (rc == 0 || errno != EALREADY)
				break;
			usleep(1000);
		}
		out("RECONFIG_REQUEST what=add errno=%d", rc < 0 ? errno : 0);
	}
}

/* ------------------------------------------------------------ address reconfiguration */

/* --asconf: ASCONF (RFC 5061) announced on every association of the socket (bindx on
 * the bound socket is then announced to the peer). usrsctp
 * announces and accepts ASCONF only with AUTH (RFC 4895) negotiated: this needs AUTH to be
 * enabled too (the AUTH options of this program). */
static int
set_asconf_opts(struct socket *s)
{
	struct sctp_assoc_value av;
	if (!opt.asconf)
		return 0;
	memset(&av, 0, sizeof(av));
	av.assoc_id = SCTP_FUTURE_ASSOC;
	av.assoc_value = 1;
	/* SCTP_AUTO_ASCONF is not set: usrsctp refuses it (EINVAL) on a socket bound to
	 * explicit addresses, and there usrsctp_bindx sends the ASCONF anyway. An accepted
	 * socket inherits SCTP_ASCONF_SUPPORTED and refuses it (EINVAL, connected): fine. */
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_ASCONF_SUPPORTED, &av, sizeof(av)) < 0 && errno != EINVAL)
		return setopt(s, IPPROTO_SCTP, SCTP_ASCONF_SUPPORTED, &av, sizeof(av), "SCTP_ASCONF_SUPPORTED");
	return 0;
}

static void client_delete_addresses(struct socket *s);

/* --asconf-after: adds --add-address to the bound socket (Add IP Address), asks the peer
 * to send to --set-primary (Set Primary Address), then removes --delete-address (Delete
 * IP Address). Each request is printed (ASCONF_REQUEST what=... addr=... errno=...); the
 * peer's changes arrive as PATH lines. */
static void
client_change_addresses(struct socket *s)
{
	char buf[MAX_ADDRS * sizeof(struct sockaddr_in6)];
	int i, rc;

	for (i = 0; i < opt.nasconf_add; i++) {
		pack_addrs(&opt.asconf_add[i], 1, 0, buf);
		rc = usrsctp_bindx(s, (struct sockaddr *)buf, 1, SCTP_BINDX_ADD_ADDR);
		out("ASCONF_REQUEST what=add addr=%s errno=%d", opt.asconf_add[i].text, rc < 0 ? errno : 0);
	}
	if (opt.nasconf_set_primary) {
		struct sctp_setpeerprim prim;
		int tries;
		memset(&prim, 0, sizeof(prim));
		pack_addrs(&opt.asconf_set_primary[0], 1, 0, buf);
		memcpy(&prim.sspp_addr, buf, opt.asconf_set_primary[0].family == AF_INET
		       ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		/* usrsctp refuses an address its peer has not acknowledged yet: retry, bounded. */
		for (tries = 0; tries < 5000; tries++) {
			rc = usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_SET_PEER_PRIMARY_ADDR, &prim, sizeof(prim));
			if (rc == 0 || (errno != EADDRNOTAVAIL && errno != EINVAL))
				break;
			usleep(1000);
		}
		out("ASCONF_REQUEST what=set_primary addr=%s errno=%d", opt.asconf_set_primary[0].text, rc < 0 ? errno : 0);
	}
	if (opt.delete_after < 0)
		client_delete_addresses(s);
}

/* --delete-address: bindx remove (Delete IP Address), with the other changes or, with
 * --delete-after, later (usrsctp drops a delete asked for while the add of the same
 * address is still unacknowledged). */
static void
client_delete_addresses(struct socket *s)
{
	char buf[MAX_ADDRS * sizeof(struct sockaddr_in6)];
	int i, rc;

	for (i = 0; i < opt.nasconf_delete; i++) {
		pack_addrs(&opt.asconf_delete[i], 1, 0, buf);
		rc = usrsctp_bindx(s, (struct sockaddr *)buf, 1, SCTP_BINDX_REM_ADDR);
		out("ASCONF_REQUEST what=delete addr=%s errno=%d", opt.asconf_delete[i].text, rc < 0 ? errno : 0);
	}
}

/* ------------------------------------------------------------ server */

enum { AFTER_CONTINUE, AFTER_CLOSED };

/* Handles one complete message on the server side. */
static int
server_message(struct socket *s, struct assoc *a, const uint8_t *m, size_t len,
               const struct sctp_rcvinfo *info)
{
	int unordered = (info->rcv_flags & SCTP_UNORDERED) != 0;
	sctp_assoc_t send_id = opt.one_to_many ? a->id : 0;
	char why[256];

	pthread_mutex_lock(&g_lock);
	st.messages_received++;
	st.bytes_received += (long long)len;
	pthread_mutex_unlock(&g_lock);
	a->messages++;

	if (opt.log_arrivals)
		out("ARRIVAL assoc=%u stream=%u seq=%u len=%zu", (unsigned)a->id, (unsigned)info->rcv_sid,
		    len >= 4 ? (unsigned)((uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3]) : 0u, len);

	if (opt.mode_verify &&
	    verify_message(a, m, len, info->rcv_sid, ntohl(info->rcv_ppid), unordered, why, sizeof(why)) < 0)
		count_error(a, &st.verify_errors, "verify", why);

	if (opt.mode_echo && !a->closing && !a->echo_failed) {
		if (send_message(s, send_id, m, len, info->rcv_sid, info->rcv_ppid, unordered, "send (echo)") < 0) {
			logmsg("assoc %u: echo failed: errno=%d %s; no more echoes", (unsigned)a->id, errno,
			       strerror(errno));
			a->echo_failed = 1;
		} else {
			pthread_mutex_lock(&g_lock);
			st.messages_sent++;
			pthread_mutex_unlock(&g_lock);
		}
	}

	if (opt.abort_after > 0 && a->messages == opt.abort_after) {
		logmsg("assoc %u: %lld messages received, aborting", (unsigned)a->id, a->messages);
		a->local_abort = 1;
		if (opt.one_to_many) {
			if (send_flags(s, a->id, SCTP_ABORT) < 0)
				logmsg("assoc %u: SCTP_ABORT failed: %s", (unsigned)a->id, strerror(errno));
			assoc_down(a, "local_abort");
			return AFTER_CONTINUE;
		} else {
			struct linger l = { 1, 0 };
			setopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l), "SO_LINGER");
			usrsctp_close(s);
			assoc_down(a, "local_abort");
			return AFTER_CLOSED;
		}
	}
	if (opt.close_after > 0 && a->messages == opt.close_after && !a->closing) {
		logmsg("assoc %u: %lld messages received, shutting down (still reading)", (unsigned)a->id,
		       a->messages);
		a->closing = 1;
		if (opt.one_to_many) {
			if (send_flags(s, a->id, SCTP_EOF) < 0)
				logmsg("assoc %u: SCTP_EOF failed: %s", (unsigned)a->id, strerror(errno));
		} else {
			wd_wait("shutdown");
			if (usrsctp_shutdown(s, SHUT_WR) < 0)
				logmsg("assoc %u: shutdown(SHUT_WR) failed: %s", (unsigned)a->id, strerror(errno));
			wd_progress();
		}
	}
	return AFTER_CONTINUE;
}

static int
run_server(void)
{
	struct socket *ls;
	struct rxbuf rx;
	uint16_t port;

	memset(&rx, 0, sizeof(rx));
	ls = make_socket(opt.one_to_many ? SOCK_SEQPACKET : SOCK_STREAM, &port);
	if (usrsctp_listen(ls, opt.one_to_many ? 1 : opt.assocs) < 0) {
		out("ERROR listen errno=%d %s", errno, strerror(errno));
		quit(EXIT_SETUP);
	}
	out("READY udp=%d port=%u", opt.udp_port, port);

	if (opt.one_to_many) {
		while (st.assocs_down < opt.assocs) {
			int rc = rx_next(ls, &rx, NULL, "recv (one-to-many)");
			if (rc == RX_NOTIF) {
				on_notification(ls, NULL, rx.notif, rx.notif_len);
			} else if (rc == RX_MSG) {
				server_message(ls, rx.msg_assoc, rx.msg->buf, rx.msg->len, &rx.msg->info);
				part_done(rx.msg);
			} else {
				out("ERROR recv on the one-to-many socket: %s",
				    rc == RX_EOF ? "end of file" : strerror(rx.err));
				quit(EXIT_SETUP);
			}
		}
	} else {
		int n;
		for (n = 0; n < opt.assocs; n++) {
			struct socket *cs;
			struct assoc *a;
			struct sctp_status status;
			socklen_t slen = sizeof(status);
			int enc, closed = 0;

			wd_wait("accept");
			cs = usrsctp_accept(ls, NULL, NULL);
			wd_progress();
			if (cs == NULL) {
				out("ERROR accept errno=%d %s", errno, strerror(errno));
				quit(EXIT_SETUP);
			}
			/* Accepted sockets inherit the listener's encapsulation port
			 * (it reads back the same); should one not, set it.  (usrsctp
			 * sends each path's packets to the UDP source port the peer's
			 * packets come from anyway.) */
			enc = get_encaps_port(cs, 0);
			if (opt.peer_udp_port != 0 && enc != opt.peer_udp_port) {
				logmsg("accepted socket has remote UDP port %d, setting %d", enc, opt.peer_udp_port);
				set_encaps_port(cs, 0);
			}
			set_common_opts(cs);
			a = assoc_new(0);
			memset(&status, 0, sizeof(status));
			if (usrsctp_getsockopt(cs, IPPROTO_SCTP, SCTP_STATUS, &status, &slen) == 0)
				assoc_up(cs, a, status.sstat_assoc_id, status.sstat_instrms, status.sstat_outstrms);
			else
				logmsg("SCTP_STATUS on the accepted socket: %s", strerror(errno));
			for (;;) {
				int rc = rx_next(cs, &rx, a, "recv");
				if (rc == RX_NOTIF) {
					on_notification(cs, a, rx.notif, rx.notif_len);
				} else if (rc == RX_MSG) {
					int after = server_message(cs, a, rx.msg->buf, rx.msg->len, &rx.msg->info);
					part_done(rx.msg);
					if (after == AFTER_CLOSED) {
						closed = 1;
						break;
					}
				} else if (rc == RX_EOF) {
					assoc_down(a, "shutdown");
					break;
				} else {
					logmsg("assoc %u: recv: %s", (unsigned)a->id, strerror(rx.err));
					assoc_down(a, reason_from_errno(rx.err));
					break;
				}
			}
			if (!closed)
				usrsctp_close(cs);
		}
	}
	usrsctp_close(ls);
	free(rx.buf);
	print_result();
	return st.verify_errors || st.echo_mismatches ? EXIT_ERRORS : EXIT_OK;
}

/* ------------------------------------------------------------ client */

static struct {
	struct socket *s;
	struct assoc *a;
	int streams;      /* effective stream count (min of --streams and negotiated) */
	uint32_t *lengths; /* planned length of message i */
	uint8_t *seen;    /* echo bitmap by message index */
	long long echoes;
	int stopping;     /* receiver is being stopped on purpose (abort at end) */
} cl;

static void
client_message(const uint8_t *m, size_t len, const struct sctp_rcvinfo *info)
{
	struct assoc *a = cl.a;
	int unordered = (info->rcv_flags & SCTP_UNORDERED) != 0;
	char why[256];

	pthread_mutex_lock(&g_lock);
	st.messages_received++;
	st.bytes_received += (long long)len;
	pthread_mutex_unlock(&g_lock);
	a->messages++;

	if (verify_message(a, m, len, info->rcv_sid, ntohl(info->rcv_ppid), unordered, why, sizeof(why)) < 0)
		count_error(a, &st.verify_errors, "verify", why);

	/* Is it the echo of a message we sent? */
	why[0] = '\0';
	if (len < MIN_MSG_LEN || cl.streams == 0) {
		snprintf(why, sizeof(why), "echo of %zu bytes is no message of ours", len);
	} else {
		uint32_t seq = get_be32(m);
		uint16_t fsid = get_be16(m + 4);
		uint64_t idx = (uint64_t)seq * (uint64_t)cl.streams + fsid;
		if (fsid >= cl.streams || idx >= (uint64_t)opt.messages)
			snprintf(why, sizeof(why), "echo stream %u seq %u was never sent", fsid, seq);
		else if (cl.lengths[idx] != len)
			snprintf(why, sizeof(why), "echo stream %u seq %u has %zu bytes, sent %u", fsid, seq, len,
			         cl.lengths[idx]);
		else if (cl.seen[idx / 8] & (1u << (idx % 8)))
			snprintf(why, sizeof(why), "echo stream %u seq %u received twice", fsid, seq);
		else if (unordered != opt.unordered)
			snprintf(why, sizeof(why), "echo stream %u seq %u came back %s", fsid, seq,
			         unordered ? "unordered" : "ordered");
		else if (fsid != info->rcv_sid)
			snprintf(why, sizeof(why), "echo of stream %u seq %u came back on stream %u", fsid, seq,
			         info->rcv_sid);
		if (fsid < cl.streams && idx < (uint64_t)opt.messages)
			cl.seen[idx / 8] |= (uint8_t)(1u << (idx % 8));
	}
	if (why[0])
		count_error(a, &st.echo_mismatches, "echo", why);
	pthread_mutex_lock(&g_lock);
	cl.echoes++;
	pthread_cond_broadcast(&g_cond);
	pthread_mutex_unlock(&g_lock);
}

static void *
client_receiver(void *arg)
{
	struct rxbuf rx;
	struct assoc *a = cl.a;

	(void)arg;
	wd_slot = 1;
	memset(&rx, 0, sizeof(rx));
	rx.dontwait = 1;
	for (;;) {
		int rc = rx_next(cl.s, &rx, a, "recv");
		if (rc == RX_NOTIF) {
			on_notification(cl.s, a, rx.notif, rx.notif_len);
		} else if (rc == RX_MSG) {
			client_message(rx.msg->buf, rx.msg->len, &rx.msg->info);
			part_done(rx.msg);
		} else if (rc == RX_STOPPED) {
			break;
		} else {
			int stopping;
			pthread_mutex_lock(&g_lock);
			a->ended = 1;
			a->end_errno = rc == RX_ERR ? rx.err : 0;
			stopping = cl.stopping;
			pthread_cond_broadcast(&g_cond);
			pthread_mutex_unlock(&g_lock);
			if (!stopping) {
				if (rc == RX_ERR)
					logmsg("recv: errno=%d %s", rx.err, strerror(rx.err));
				assoc_down(a, rc == RX_EOF ? "shutdown" : reason_from_errno(rx.err));
			}
			break;
		}
	}
	pthread_mutex_lock(&wd_lock);
	wd_label[1] = NULL;
	pthread_mutex_unlock(&wd_lock);
	free(rx.buf);
	return NULL;
}

/* Waits (bounded by the watchdog) until cond() holds. */
static void
wait_until(int (*cond)(void), const char *label)
{
	wd_wait(label);
	pthread_mutex_lock(&g_lock);
	while (!cond()) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g_cond, &g_lock, &ts);
	}
	pthread_mutex_unlock(&g_lock);
}

static int
cond_up_or_ended(void)
{
	return cl.a->up || cl.a->ended || cl.a->cant_start;
}

static int
cond_echoes_done(void)
{
	return cl.echoes >= st.messages_sent || cl.a->ended || cl.a->down;
}

static int
run_client(void)
{
	char buf[MAX_ADDRS * sizeof(struct sockaddr_in6)];
	struct assoc *a;
	pthread_t rth;
	uint16_t port;
	uint8_t *m;
	uint32_t *seqs;
	long long i;
	int e, rc = EXIT_OK, send_failed = 0;
	sctp_assoc_t id = 0;
	struct sctp_status status;
	socklen_t slen = sizeof(status);

	cl.lengths = malloc(sizeof(uint32_t) * (size_t)(opt.messages ? opt.messages : 1));
	cl.seen = calloc((size_t)(opt.messages / 8 + 1), 1);
	seqs = calloc(MAX_STREAMS + 1, sizeof(uint32_t));
	m = malloc(opt.len_max);
	if (!cl.lengths || !cl.seen || !seqs || !m) {
		out("ERROR setup out of memory");
		quit(EXIT_SETUP);
	}
	rng_state = opt.seed;
	for (i = 0; i < opt.messages; i++)
		cl.lengths[i] = opt.len_min == opt.len_max
		                    ? opt.len_min
		                    : opt.len_min + (uint32_t)(rng_next() % (uint64_t)(opt.len_max - opt.len_min + 1));

	cl.s = make_socket(SOCK_STREAM, &port);
	cl.a = a = assoc_new(0);
	out("READY udp=%d port=%u", opt.udp_port, port);

	pack_addrs(opt.connects, opt.nconnects, (uint16_t)opt.remote_port, buf);
	wd_wait("connect");
	if (usrsctp_connectx(cl.s, (struct sockaddr *)buf, opt.nconnects, &id) < 0) {
		e = errno;
		out("ERROR connect errno=%d %s", e, strerror(e));
		quit(EXIT_SETUP);
	}
	wd_progress();
	usrsctp_set_upcall(cl.s, rx_upcall, NULL);
	if (pthread_create(&rth, NULL, client_receiver, NULL) != 0) {
		out("ERROR setup pthread_create");
		quit(EXIT_SETUP);
	}
	/* usrsctp_connectx only sends the INIT: wait for COMM_UP or the end. */
	wait_until(cond_up_or_ended, "connect");
	if (!a->up) {
		if (!a->ended) /* CANT_STR_ASSOC seen; give recv a moment to report so_error */
			sleep_ms(100);
		e = a->end_errno ? a->end_errno : a->refused ? ECONNREFUSED : ETIMEDOUT;
		out("ERROR connect errno=%d %s", e, strerror(e));
		quit(EXIT_SETUP);
	}
	wd_progress();

	memset(&status, 0, sizeof(status));
	cl.streams = opt.streams;
	if (usrsctp_getsockopt(cl.s, IPPROTO_SCTP, SCTP_STATUS, &status, &slen) == 0 &&
	    status.sstat_outstrms < cl.streams) {
		logmsg("peer allows %u outgoing streams, not %d: using %u", status.sstat_outstrms, opt.streams,
		       status.sstat_outstrms);
		cl.streams = status.sstat_outstrms;
	}
	if (cl.streams == 0) {
		out("ERROR setup association has no outgoing streams");
		quit(EXIT_SETUP);
	}

	for (i = 0; i < opt.messages; i++) {
		uint16_t sid = (uint16_t)(i % cl.streams);
		uint32_t len = cl.lengths[i];
		int down;

		pthread_mutex_lock(&g_lock);
		down = a->down || a->ended;
		pthread_mutex_unlock(&g_lock);
		if (down) {
			logmsg("association ended after %lld of %lld messages", i, opt.messages);
			send_failed = 1;
			break;
		}
		fill_message(m, len, seqs[sid], sid);
		if (i == opt.corrupt)
			m[len - 1] ^= 0xFF; /* a self-test of the receiver's verification */
		if (send_message(cl.s, 0, m, len, sid, htonl(PPID_BASE + (opt.unordered ? 1u : 0u)), opt.unordered,
		                 "send") < 0) {
			e = errno;
			out("ERROR send errno=%d %s after %lld messages", e, strerror(e), i);
			send_failed = 1;
			break;
		}
		seqs[sid]++;
		pthread_mutex_lock(&g_lock);
		st.messages_sent++;
		pthread_mutex_unlock(&g_lock);
		if (opt.reset_after >= 0 && i + 1 == opt.reset_after) {
			/* An SSN/TSN reset finds both sides quiet: usrsctp 0.9.5 sometimes sends no
			 * more data after one whose answer waited for the peer's data in flight. */
			if (opt.reset_assoc && opt.echo)
				wait_until(cond_echoes_done, "echoes before the SSN/TSN reset");
			client_reconfigure(cl.s);
		}
		if (opt.asconf_after >= 0 && i + 1 == opt.asconf_after)
			client_change_addresses(cl.s);
		if (opt.delete_after >= 0 && i + 1 == opt.delete_after)
			client_delete_addresses(cl.s);
	}

	if (opt.echo)
		wait_until(cond_echoes_done, "echoes");

	if (opt.abort_at_end) {
		struct linger l = { 1, 0 };
		/* Let everything sent be acknowledged first, so that the peer gets all
		 * of it before the ABORT. */
		wd_wait("drain before abort");
		for (;;) {
			slen = sizeof(status);
			memset(&status, 0, sizeof(status));
			if (a->down || a->ended || usrsctp_getsockopt(cl.s, IPPROTO_SCTP, SCTP_STATUS, &status, &slen) < 0 ||
			    (status.sstat_unackdata == 0 && status.sstat_penddata == 0))
				break;
			sleep_ms(5);
		}
		wd_progress();
		pthread_mutex_lock(&g_lock);
		cl.stopping = 1;
		pthread_mutex_unlock(&g_lock);
		/* Stop the receiver thread before closing the socket under it. */
		rx_request_stop();
		wd_wait("receiver thread");
		pthread_join(rth, NULL);
		wd_progress();
		setopt(cl.s, SOL_SOCKET, SO_LINGER, &l, sizeof(l), "SO_LINGER");
		usrsctp_close(cl.s);
		assoc_down(a, "local_abort");
	} else {
		if (!a->ended) {
			wd_wait("shutdown");
			if (usrsctp_shutdown(cl.s, SHUT_WR) < 0 && errno != ENOTCONN)
				logmsg("shutdown(SHUT_WR): %s", strerror(errno));
			wd_progress();
		}
		wd_wait("end of association");
		pthread_join(rth, NULL);
		wd_progress();
		usrsctp_close(cl.s);
	}

	print_result();
	if (st.verify_errors || st.echo_mismatches)
		rc = EXIT_ERRORS;
	else if (send_failed || st.messages_sent < opt.messages || (opt.echo && cl.echoes < st.messages_sent) ||
	         (a->down_reason && strcmp(a->down_reason, "shutdown") != 0 &&
	          strcmp(a->down_reason, "local_abort") != 0))
		rc = EXIT_INCOMPLETE;
	if (rc == EXIT_INCOMPLETE)
		logmsg("incomplete: sent %lld of %lld, %lld echoes, association ended: %s", st.messages_sent,
		       opt.messages, cl.echoes, a->down_reason ? a->down_reason : "?");
	free(m);
	free(seqs);
	return rc;
}

/* ------------------------------------------------------------ main */

int
main(int argc, char **argv)
{
	pthread_t wd;
	uint16_t udp = 0;
	int i, rc, e, mode_set = 0;
	const char *length_arg = NULL;

	signal(SIGPIPE, SIG_IGN);
	opt.assocs = 1;
	opt.messages = 1000;
	opt.len_min = opt.len_max = 1024;
	opt.seed = 1;
	opt.streams = 10;
	opt.max_init_rtx = -1;
	opt.path_max_retrans = -1;
	opt.assoc_max_retrans = -1;
	opt.hb_interval = -1;
	opt.timeout = 30;
	opt.blackhole = -1;
	opt.udp_port = -1;
	opt.peer_udp_port = -1;
	opt.port = 0;
	opt.remote_port = -1;
	opt.corrupt = -1;
	opt.reset_after = -1;
	opt.asconf_after = -1;
	opt.delete_after = -1;
	opt.auth_key_id = -1;

	if (argc < 2)
		usage(NULL);
	if (strcmp(argv[1], "server") == 0)
		opt.is_server = 1;
	else if (strcmp(argv[1], "client") != 0)
		usage("first argument must be server or client");

	for (i = 2; i < argc; i++) {
		char name[64];
		const char *a = argv[i], *v = NULL, *eq;

		if (strncmp(a, "--", 2) != 0)
			usage("options start with --");
		eq = strchr(a, '=');
		if (eq) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - a), a);
			v = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
		}
		/* flags */
		if (!strcmp(name, "--unordered")) { opt.unordered = 1; continue; }
		if (!strcmp(name, "--echo")) { opt.echo = 1; continue; }
		if (!strcmp(name, "--verify")) { opt.mode_verify = 1; continue; }
		if (!strcmp(name, "--log-arrivals")) { opt.log_arrivals = 1; continue; }
		if (!strcmp(name, "--abort-at-end")) { opt.abort_at_end = 1; continue; }
		if (!strcmp(name, "--one-to-many")) { opt.one_to_many = 1; continue; }
		if (!strcmp(name, "--nodelay")) { opt.nodelay = 1; continue; }
		if (!strcmp(name, "--interleaving")) { opt.interleaving = 1; continue; }
		if (!strcmp(name, "--nr-sack")) { opt.nr_sack = 1; continue; }
		if (!strcmp(name, "--no-debug")) { opt.debug = 0; continue; }
		if (!strcmp(name, "--debug")) { opt.debug = 1; continue; }
		if (!strcmp(name, "--enable-reset")) { opt.enable_reset = 1; continue; }
		if (!strcmp(name, "--reset-both")) { opt.reset_both = 1; continue; }
		if (!strcmp(name, "--reset-assoc")) { opt.reset_assoc = 1; continue; }
		if (!strcmp(name, "--asconf")) { opt.asconf = 1; continue; }
		if (v == NULL) {
			char msg[96];
			if (i + 1 >= argc) {
				snprintf(msg, sizeof(msg), "%s needs a value", name);
				usage(msg);
			}
			v = argv[++i];
		}
		if (!strcmp(name, "--bind"))
			parse_addr_list(v, opt.binds, &opt.nbinds, "--bind");
		else if (!strcmp(name, "--connect"))
			parse_addr_list(v, opt.connects, &opt.nconnects, "--connect");
		else if (!strcmp(name, "--port"))
			opt.port = (int)parse_num(v, name, 0, 65535);
		else if (!strcmp(name, "--remote-port"))
			opt.remote_port = (int)parse_num(v, name, 1, 65535);
		else if (!strcmp(name, "--udp-port"))
			opt.udp_port = (int)parse_num(v, name, 0, 65535);
		else if (!strcmp(name, "--peer-udp-port"))
			opt.peer_udp_port = (int)parse_num(v, name, 0, 65535);
		else if (!strcmp(name, "--mode")) {
			mode_set = 1;
			if (!strcmp(v, "echo"))
				opt.mode_echo = 1;
			else if (!strcmp(v, "verify"))
				opt.mode_verify = 1;
			else if (strcmp(v, "discard") != 0)
				usage("--mode is echo, discard or verify");
		} else if (!strcmp(name, "--assocs"))
			opt.assocs = (int)parse_num(v, name, 1, 100000);
		else if (!strcmp(name, "--close-after"))
			opt.close_after = parse_num(v, name, 1, (1LL << 62));
		else if (!strcmp(name, "--abort-after"))
			opt.abort_after = parse_num(v, name, 1, (1LL << 62));
		else if (!strcmp(name, "--messages"))
			opt.messages = parse_num(v, name, 0, 1LL << 36);
		else if (!strcmp(name, "--length"))
			length_arg = v;
		else if (!strcmp(name, "--corrupt"))
			opt.corrupt = parse_num(v, name, 0, 1LL << 36);
		else if (!strcmp(name, "--seed"))
			opt.seed = (uint64_t)parse_num(v, name, 0, INT64_MAX);
		else if (!strcmp(name, "--streams"))
			opt.streams = (int)parse_num(v, name, 1, MAX_STREAMS);
		else if (!strcmp(name, "--max-init-retransmits"))
			opt.max_init_rtx = (int)parse_num(v, name, 0, 65535);
		else if (!strcmp(name, "--rto-initial"))
			opt.rto_initial = (int)parse_num(v, name, 1, INT32_MAX);
		else if (!strcmp(name, "--rto-min"))
			opt.rto_min = (int)parse_num(v, name, 1, INT32_MAX);
		else if (!strcmp(name, "--rto-max"))
			opt.rto_max = (int)parse_num(v, name, 1, INT32_MAX);
		else if (!strcmp(name, "--path-max-retrans"))
			opt.path_max_retrans = (int)parse_num(v, name, 0, 65535);
		else if (!strcmp(name, "--assoc-max-retrans"))
			opt.assoc_max_retrans = (int)parse_num(v, name, 1, 65535);
		else if (!strcmp(name, "--hb-interval"))
			opt.hb_interval = (int)parse_num(v, name, 0, INT32_MAX);
		else if (!strcmp(name, "--mtu"))
			opt.mtu = (int)parse_num(v, name, 576, 65535);
		else if (!strcmp(name, "--timeout"))
			opt.timeout = (int)parse_num(v, name, 1, 86400);
		else if (!strcmp(name, "--blackhole"))
			opt.blackhole = (int)parse_num(v, name, 0, 2);
		else if (!strcmp(name, "--sndbuf"))
			opt.sndbuf = (int)parse_num(v, name, 1, INT32_MAX);
		else if (!strcmp(name, "--rcvbuf"))
			opt.rcvbuf = (int)parse_num(v, name, 1, INT32_MAX);
		else if (!strcmp(name, "--reset-after"))
			opt.reset_after = parse_num(v, name, 1, 1LL << 36);
		else if (!strcmp(name, "--auth-chunks"))
			parse_auth_chunks(v);
		else if (!strcmp(name, "--auth-key"))
			parse_auth_key(v);
		else if (!strcmp(name, "--hmac")) {
			if (!strcmp(v, "sha1"))
				opt.hmac = SCTP_AUTH_HMAC_ID_SHA1;
			else if (!strcmp(v, "sha256"))
				opt.hmac = SCTP_AUTH_HMAC_ID_SHA256;
			else
				usage("--hmac is sha1 or sha256");
		} else if (!strcmp(name, "--add-streams"))
			opt.add_streams = (int)parse_num(v, name, 1, 65535);
		/* address reconfiguration (RFC 5061) */
		else if (!strcmp(name, "--asconf-after"))
			opt.asconf_after = parse_num(v, name, 1, 1LL << 36);
		else if (!strcmp(name, "--delete-after"))
			opt.delete_after = parse_num(v, name, 1, 1LL << 36);
		else if (!strcmp(name, "--add-address"))
			parse_addr_list(v, opt.asconf_add, &opt.nasconf_add, name);
		else if (!strcmp(name, "--delete-address"))
			parse_addr_list(v, opt.asconf_delete, &opt.nasconf_delete, name);
		else if (!strcmp(name, "--set-primary")) {
			parse_addr_list(v, opt.asconf_set_primary, &opt.nasconf_set_primary, name);
			if (opt.nasconf_set_primary != 1)
				usage("--set-primary takes one address");
		}
		else {
			char msg[96];
			snprintf(msg, sizeof(msg), "unknown option %s", name);
			usage(msg);
		}
	}

	/* Validation. */
	if (opt.nbinds == 0)
		usage("--bind is required");
	if (opt.udp_port < 0)
		usage("--udp-port is required (0 picks a free port)");
	if (opt.peer_udp_port < 0)
		usage("--peer-udp-port is required");
	if (length_arg) {
		const char *dash = strchr(length_arg, '-');
		if (dash) {
			char lo[32];
			snprintf(lo, sizeof(lo), "%.*s", (int)(dash - length_arg), length_arg);
			opt.len_min = (uint32_t)parse_num(lo, "--length", MIN_MSG_LEN, MAX_MSG_LEN);
			opt.len_max = (uint32_t)parse_num(dash + 1, "--length", MIN_MSG_LEN, MAX_MSG_LEN);
			if (opt.len_min > opt.len_max)
				usage("--length MIN-MAX needs MIN <= MAX");
		} else {
			opt.len_min = opt.len_max = (uint32_t)parse_num(length_arg, "--length", MIN_MSG_LEN, MAX_MSG_LEN);
		}
	}
	if (opt.is_server) {
		if (opt.nconnects)
			usage("--connect is for the client");
	} else {
		if (opt.peer_udp_port == 0)
			usage("the client needs the server's UDP port (--peer-udp-port)");
		if (opt.nconnects == 0 || opt.remote_port < 0)
			usage("the client needs --connect and --remote-port");
		if (opt.one_to_many || opt.close_after || opt.abort_after || mode_set)
			usage("--one-to-many, --close-after, --abort-after and --mode are server options");
		if (opt.unordered && opt.len_max > 65536)
			logmsg("warning: unordered messages over 64 KiB can corrupt usrsctp 0.9.5's heap "
			       "on the receiving side (see README)");
	}
	sock_family = AF_INET;
	for (i = 0; i < opt.nbinds; i++)
		if (opt.binds[i].family == AF_INET6)
			sock_family = AF_INET6;
	for (i = 0; i < opt.nconnects; i++)
		if (opt.connects[i].family == AF_INET6)
			sock_family = AF_INET6;

	/* The UDP encapsulation port: check that it is free (or pick one). */
	e = check_udp_port(&opt.binds[0], opt.udp_port, &udp);
	if (e) {
		out("ERROR udp-port %d errno=%d %s", opt.udp_port, e, strerror(e));
		quit(EXIT_SETUP);
	}
	opt.udp_port = udp;

	wd_last = now_s();
	if (pthread_create(&wd, NULL, watchdog, NULL) != 0) {
		out("ERROR setup pthread_create");
		quit(EXIT_SETUP);
	}
	pthread_detach(wd);

	usrsctp_init((uint16_t)opt.udp_port, NULL, opt.debug ? debug_printer : NULL);
	usrsctp_sysctl_set_sctp_debug_on(opt.debug ? 0xffffffffu : 0);
	/* A real CRC32c on loopback too (with UDP encapsulation it was right on
	 * the wire even without this, but be explicit). */
	usrsctp_sysctl_set_sctp_no_csum_on_loopback(0);
	usrsctp_sysctl_set_sctp_auth_enable(1);
	if (opt.blackhole >= 0)
		usrsctp_sysctl_set_sctp_blackhole((uint32_t)opt.blackhole);
	if (opt.nr_sack) {
		/* NR-SACK: announced with nrsack_enable; usrsctp sends NR-SACK (not SACK)
		 * only with CMT on, and reports out-of-order TSNs as non-renegable only
		 * when it may not drain (renege) them. Read at socket creation. */
		usrsctp_sysctl_set_sctp_nrsack_enable(1);
		usrsctp_sysctl_set_sctp_cmt_on_off(1);
		usrsctp_sysctl_set_sctp_do_drain(0);
	}
	if (opt.asconf) {
		/* ASCONF (RFC 5061): usrsctp refuses asconf_enable without auth_enable. */
		usrsctp_sysctl_set_sctp_asconf_enable(1);
		usrsctp_sysctl_set_sctp_auto_asconf(1);
	}

	rc = opt.is_server ? run_server() : run_client();

	/* Let closing associations finish (SHUTDOWN COMPLETE, ABORT) before the
	 * stack goes away; bounded. */
	pthread_mutex_lock(&wd_lock);
	wd_off = 1;
	pthread_mutex_unlock(&wd_lock);
	for (i = 0; i < 100 && usrsctp_finish() != 0; i++)
		sleep_ms(50);
	if (i == 100)
		logmsg("usrsctp_finish did not complete within 5 s");
	quit(rc);
	return rc;
}
