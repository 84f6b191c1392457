/*
 * usrsctp-bench: the usrsctp side of Benchmarks/run.sh (association setup rate, echo
 * round-trip time, memory per idle association). SCTP over UDP encapsulation (RFC 6951)
 * on loopback, explicit addresses only (never the wildcard), usrsctp's debug output off.
 * Every wait is bounded by --time (a watchdog thread ends the program with exit code 3).
 *
 *   usrsctp-bench server  --bind A --port P --udp-port U --peer-udp-port V
 *                         [--assocs N] [--echo] [--memory] --time S
 *       one-to-many socket; counts COMMUNICATION_UP; --echo returns every message;
 *       --memory: once N associations are up, prints the heap (mallinfo2) and RSS growth
 *         (and heap_per_association_marginal: the growth from the (N/100)th association on)
 *       since just before listen(), per association, and exits; otherwise exits after N
 *       associations have come up (0: run until --time).
 *   usrsctp-bench setup   --bind A --connect B --remote-port P --udp-port U --peer-udp-port V
 *                         --count N --time S [--concurrency K [--api threads|nonblocking]]
 *       one after another: a one-to-one socket bound to A (port chosen by usrsctp),
 *       blocking connect, then close with SO_LINGER 0 (ABORT); prints the rate.
 *       --concurrency K (default 1): K associations being set up at once, each completion
 *       starting the next, N in all:
 *         --api threads (default): K threads, each doing the blocking loop above;
 *         --api nonblocking: one thread, K non-blocking sockets; usrsctp_connect returns
 *           EINPROGRESS, the socket's upcall (usrsctp_set_upcall, called on usrsctp's own
 *           threads) queues it, and the main thread, woken, sees SCTP_EVENT_WRITE
 *           (usrsctp_get_events: the association is up), closes it with SO_LINGER 0 and
 *           connects a new socket in its place: the event-driven equivalent.
 *   usrsctp-bench hold    (same options as setup): connects N sockets and keeps them
 *       open until --time passes (or the program is killed).
 *   usrsctp-bench rtt     --bind A --connect B --remote-port P --udp-port U --peer-udp-port V
 *                         --length L --count N --time S
 *       one message outstanding: send, wait for the whole echo, repeat; prints p50/p99.
 *
 * Output: one JSON object on stdout. Build: cc -O2 usrsctp-bench.c -lusrsctp -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <usrsctp.h>

int usrsctp_sysctl_set_sctp_debug_on(uint32_t value);

static const char *mode, *bind_addr = "127.0.0.1", *connect_addr = "127.0.0.1";
static int port = 5001, remote_port = 5001, udp_port, peer_udp_port, echo_mode, memory_mode;
static long assocs, count = 1000, length = 64, concurrency = 1;
static const char *setup_api = "threads";
static double time_limit = 10;

static double now_s(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *watchdog(void *arg) {
	(void)arg;
	double end = now_s() + time_limit + 5;
	while (now_s() < end) usleep(100000);
	fprintf(stderr, "usrsctp-bench %s: time limit passed\n", mode);
	fflush(NULL);
	_exit(3);
}

static void fail(const char *what) {
	fprintf(stderr, "usrsctp-bench %s: %s: %s\n", mode, what, strerror(errno));
	exit(2);
}

static struct sockaddr_in addr_of(const char *text, int p) {
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, text, &a.sin_addr) != 1 || (ntohl(a.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "usrsctp-bench: %s is not an IPv4 loopback address\n", text);
		exit(2);
	}
	return a;
}

static struct socket *make_socket(int type, int lport) {
	struct socket *s = usrsctp_socket(AF_INET, type, IPPROTO_SCTP, NULL, NULL, 0, NULL);
	if (!s) fail("socket");
	struct sctp_udpencaps enc;
	memset(&enc, 0, sizeof(enc));
	enc.sue_address.ss_family = AF_INET;
	enc.sue_assoc_id = SCTP_FUTURE_ASSOC;
	enc.sue_port = htons((uint16_t)peer_udp_port);
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &enc, sizeof(enc)) < 0) fail("SCTP_REMOTE_UDP_ENCAPS_PORT");
	const int on = 1;
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on)) < 0) fail("SCTP_NODELAY");
	struct sockaddr_in local = addr_of(bind_addr, lport);
	if (usrsctp_bindx(s, (struct sockaddr *)&local, 1, SCTP_BINDX_ADD_ADDR) < 0) fail("bindx");
	return s;
}

static long rss_bytes(void) {
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
		fclose(f);
	}
	return resident * sysconf(_SC_PAGESIZE);
}

static int server(void) {
	struct socket *s = make_socket(SOCK_SEQPACKET, port);
	struct sctp_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.se_assoc_id = SCTP_FUTURE_ASSOC;
	ev.se_type = SCTP_ASSOC_CHANGE;
	ev.se_on = 1;
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev)) < 0) fail("SCTP_EVENT");
	const int on = 1;
	if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)) < 0) fail("SCTP_RECVRCVINFO");
	struct mallinfo2 before = mallinfo2();
	struct mallinfo2 warm = before;
	const long warm_count = assocs / 100 > 0 ? assocs / 100 : 1;
	long rss_before = rss_bytes();
	if (usrsctp_listen(s, 1) < 0) fail("listen");
	printf("READY\n");
	fflush(stdout);
	static char buf[1 << 17];
	long up = 0, down = 0, messages = 0;
	size_t have = 0;
	for (;;) {
		struct sctp_rcvinfo info;
		socklen_t infolen = sizeof(info);
		unsigned int infotype = 0;
		int flags = 0;
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = usrsctp_recvv(s, buf + have, sizeof(buf) - have, (struct sockaddr *)&from, &fromlen, &info, &infolen,
		                          &infotype, &flags);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN) continue;
			fail("recvv");
		}
		if (flags & MSG_NOTIFICATION) {
			union sctp_notification *note = (union sctp_notification *)(buf + have);
			if (note->sn_header.sn_type == SCTP_ASSOC_CHANGE) {
				uint16_t state = note->sn_assoc_change.sac_state;
				if (state == SCTP_COMM_UP || state == SCTP_RESTART) {
					up++;
					/* The marginal figure starts once 1 % are up (lazily made buffers exist by then). */
					if (memory_mode && up == warm_count) warm = mallinfo2();
				}
				if (state == SCTP_COMM_LOST || state == SCTP_SHUTDOWN_COMP) down++;
			}
			if (assocs > 0 && up >= assocs) break;
			continue;
		}
		have += (size_t)n;
		if (!(flags & MSG_EOR) && have < sizeof(buf)) continue;
		messages++;
		if (echo_mode && infotype == SCTP_RECVV_RCVINFO) {
			struct sctp_sndinfo snd;
			memset(&snd, 0, sizeof(snd));
			snd.snd_sid = info.rcv_sid;
			snd.snd_ppid = info.rcv_ppid;
			snd.snd_assoc_id = info.rcv_assoc_id;
			snd.snd_flags = (info.rcv_flags & SCTP_UNORDERED) ? SCTP_UNORDERED : 0;
			if (usrsctp_sendv(s, buf, have, NULL, 0, &snd, sizeof(snd), SCTP_SENDV_SNDINFO, 0) < 0) fail("sendv");
		}
		have = 0;
	}
	if (memory_mode) {
		struct mallinfo2 after = mallinfo2();
		long heap = (long)(after.uordblks + after.hblkhd) - (long)(before.uordblks + before.hblkhd);
		long rss = rss_bytes() - rss_before;
		long marginal = (long)(after.uordblks + after.hblkhd) - (long)(warm.uordblks + warm.hblkhd);
		printf("{\"associations\": %ld, \"heap_bytes\": %ld, \"rss_bytes\": %ld, \"heap_per_association\": %.1f, "
		       "\"rss_per_association\": %.1f, \"heap_per_association_marginal\": %.1f}\n",
		       up, heap, rss, (double)heap / (double)up, (double)rss / (double)up,
		       up > warm_count ? (double)marginal / (double)(up - warm_count) : 0.0);
	} else {
		printf("{\"associations_up\": %ld, \"associations_down\": %ld, \"messages\": %ld}\n", up, down, messages);
	}
	fflush(stdout);
	_exit(0); /* the client ends the associations; no need to wait for usrsctp_finish */
}

/* Shared by the setup threads (--concurrency K, --api threads). */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static long setup_started, setup_done;
static double setup_slowest, setup_connecting, setup_end;

static void setup_account(double took) {
	pthread_mutex_lock(&setup_lock);
	setup_done++;
	setup_connecting += took;
	if (took > setup_slowest) setup_slowest = took;
	pthread_mutex_unlock(&setup_lock);
}

/* Claims the next association to set up; 0 when N have been started or the time is up. */
static int setup_claim(void) {
	pthread_mutex_lock(&setup_lock);
	int ok = setup_started < count && now_s() < setup_end;
	if (ok) setup_started++;
	pthread_mutex_unlock(&setup_lock);
	return ok;
}

static void *setup_thread(void *arg) {
	struct sockaddr_in peer = addr_of(connect_addr, remote_port);
	const struct linger l = {1, 0};
	(void)arg;
	while (setup_claim()) {
		struct socket *s = make_socket(SOCK_STREAM, 0);
		double t0 = now_s();
		if (usrsctp_connect(s, (struct sockaddr *)&peer, sizeof(peer)) < 0) fail("connect");
		setup_account(now_s() - t0);
		usrsctp_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		usrsctp_close(s);
	}
	return NULL;
}

/* --api nonblocking: the upcall queues the slot; the main thread does the work. */
struct slot {
	struct socket *s;
	double t0;
	int queued;
};
static pthread_cond_t setup_wake = PTHREAD_COND_INITIALIZER;
static struct slot *slots;
static long *ready_queue, ready_count;

static void setup_upcall(struct socket *so, void *arg, int flags) {
	(void)so;
	(void)flags;
	struct slot *slot = arg;
	pthread_mutex_lock(&setup_lock);
	if (!slot->queued) {
		slot->queued = 1;
		ready_queue[ready_count++] = slot - slots;
		pthread_cond_signal(&setup_wake);
	}
	pthread_mutex_unlock(&setup_lock);
}

/* Starts a non-blocking connect in SLOT (called without setup_lock). */
static void setup_start(struct slot *slot, const struct sockaddr_in *peer) {
	struct socket *s = make_socket(SOCK_STREAM, 0);
	if (usrsctp_set_non_blocking(s, 1) < 0) fail("set_non_blocking");
	pthread_mutex_lock(&setup_lock);
	slot->s = s;
	slot->t0 = now_s();
	pthread_mutex_unlock(&setup_lock);
	usrsctp_set_upcall(s, setup_upcall, slot);
	if (usrsctp_connect(s, (struct sockaddr *)peer, sizeof(*peer)) < 0 && errno != EINPROGRESS) fail("connect");
}

static void setup_nonblocking(void) {
	struct sockaddr_in peer = addr_of(connect_addr, remote_port);
	const struct linger l = {1, 0};
	slots = calloc((size_t)concurrency, sizeof(*slots));
	ready_queue = calloc((size_t)concurrency, sizeof(*ready_queue));
	long active = 0;
	for (long i = 0; i < concurrency && setup_claim(); i++) {
		setup_start(&slots[i], &peer);
		active++;
	}
	long *batch = calloc((size_t)concurrency, sizeof(*batch));
	while (active > 0) {
		pthread_mutex_lock(&setup_lock);
		if (ready_count == 0) {
			/* Bounded wait; on a timeout every slot is looked at (a missed upcall costs 10 ms, not a hang). */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 10 * 1000 * 1000;
			if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
			if (pthread_cond_timedwait(&setup_wake, &setup_lock, &until) == ETIMEDOUT) {
				for (long i = 0; i < concurrency; i++)
					if (slots[i].s && !slots[i].queued) { slots[i].queued = 1; ready_queue[ready_count++] = i; }
			}
		}
		long n = ready_count;
		memcpy(batch, ready_queue, (size_t)n * sizeof(*batch));
		ready_count = 0;
		for (long i = 0; i < n; i++) slots[batch[i]].queued = 0;
		pthread_mutex_unlock(&setup_lock);
		for (long i = 0; i < n; i++) {
			struct slot *slot = &slots[batch[i]];
			if (!slot->s) continue;
			int events = usrsctp_get_events(slot->s);
			if (events & SCTP_EVENT_ERROR) { errno = ECONNREFUSED; fail("connect (non-blocking)"); }
			if (!(events & SCTP_EVENT_WRITE)) continue; /* not up yet */
			struct socket *s = slot->s;
			setup_account(now_s() - slot->t0);
			usrsctp_set_upcall(s, NULL, NULL);
			pthread_mutex_lock(&setup_lock);
			slot->s = NULL;
			pthread_mutex_unlock(&setup_lock);
			usrsctp_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			usrsctp_close(s);
			if (setup_claim()) setup_start(slot, &peer);
			else active--;
		}
	}
}

static int setup(int hold) {
	struct sockaddr_in peer = addr_of(connect_addr, remote_port);
	struct socket **held = hold ? calloc((size_t)count, sizeof(*held)) : NULL;
	const struct linger l = {1, 0};
	double start = now_s(), end = start + time_limit;
	long done = 0;
	double slowest = 0, connecting = 0;
	const char *api = "blocking";
	if (!hold && (concurrency > 1 || strcmp(setup_api, "threads") != 0)) {
		setup_end = end;
		if (!strcmp(setup_api, "nonblocking")) {
			api = "nonblocking";
			setup_nonblocking();
		} else {
			api = "threads";
			pthread_t *threads = calloc((size_t)concurrency, sizeof(*threads));
			for (long i = 0; i < concurrency; i++) pthread_create(&threads[i], NULL, setup_thread, NULL);
			for (long i = 0; i < concurrency; i++) pthread_join(threads[i], NULL);
		}
		done = setup_done;
		slowest = setup_slowest;
		connecting = setup_connecting;
	} else {
		while (done < count && now_s() < end) {
			struct socket *s = make_socket(SOCK_STREAM, 0);
			double t0 = now_s();
			if (usrsctp_connect(s, (struct sockaddr *)&peer, sizeof(peer)) < 0) fail("connect");
			double took = now_s() - t0;
			connecting += took;
			if (took > slowest) slowest = took;
			if (hold) {
				held[done] = s;
			} else {
				usrsctp_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
				usrsctp_close(s);
			}
			done++;
		}
	}
	double seconds = now_s() - start;
	printf("{\"api\": \"%s\", \"concurrency\": %ld, \"associations\": %ld, \"seconds\": %.6f, \"per_second\": %.1f, "
	       "\"mean_connect_ms\": %.3f, \"slowest_connect_ms\": %.3f}\n",
	       api, concurrency, done, seconds, done / seconds, done ? connecting / done * 1000 : 0, slowest * 1000);
	fflush(stdout);
	if (hold) {
		while (now_s() < end) usleep(100000);
		for (long i = 0; i < done; i++) {
			usrsctp_setsockopt(held[i], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			usrsctp_close(held[i]);
		}
	}
	_exit(0);
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int rtt(void) {
	struct sockaddr_in peer = addr_of(connect_addr, remote_port);
	struct socket *s = make_socket(SOCK_STREAM, 0);
	if (usrsctp_connect(s, (struct sockaddr *)&peer, sizeof(peer)) < 0) fail("connect");
	char *out = malloc((size_t)length), *in = malloc((size_t)length + 1);
	memset(out, 0x5a, (size_t)length);
	double *samples = malloc((size_t)count * sizeof(double));
	double start = now_s(), end = start + time_limit;
	long n = 0;
	struct sctp_sndinfo snd;
	memset(&snd, 0, sizeof(snd));
	snd.snd_ppid = htonl(0x50455246u);
	while (n < count && now_s() < end) {
		double t0 = now_s();
		if (usrsctp_sendv(s, out, (size_t)length, NULL, 0, &snd, sizeof(snd), SCTP_SENDV_SNDINFO, 0) < 0) fail("sendv");
		size_t got = 0;
		for (;;) {
			int flags = 0;
			socklen_t infolen = 0;
			unsigned int infotype = 0;
			ssize_t r = usrsctp_recvv(s, in + got, (size_t)length + 1 - got, NULL, NULL, NULL, &infolen, &infotype, &flags);
			if (r < 0) {
				if (errno == EINTR || errno == EAGAIN) continue;
				fail("recvv");
			}
			if (r == 0) { errno = ECONNRESET; fail("recvv"); }
			if (flags & MSG_NOTIFICATION) continue;
			got += (size_t)r;
			if (flags & MSG_EOR) break;
		}
		samples[n++] = (now_s() - t0) * 1e6;
	}
	double seconds = now_s() - start;
	qsort(samples, (size_t)n, sizeof(double), cmp_double);
	printf("{\"messages\": %ld, \"seconds\": %.6f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}\n", n, seconds,
	       n ? samples[n / 2] : 0, n ? samples[(n * 99) / 100] : 0, n ? samples[n - 1] : 0);
	fflush(stdout);
	const struct linger l = {1, 0};
	usrsctp_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	usrsctp_close(s);
	_exit(0);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: usrsctp-bench server|setup|hold|rtt [options] (see the source)\n");
		return 2;
	}
	mode = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--echo")) { echo_mode = 1; continue; }
		if (!strcmp(o, "--memory")) { memory_mode = 1; continue; }
		if (!v) { fprintf(stderr, "usrsctp-bench: %s needs a value\n", o); return 2; }
		i++;
		if (!strcmp(o, "--bind")) bind_addr = v;
		else if (!strcmp(o, "--connect")) connect_addr = v;
		else if (!strcmp(o, "--port")) port = atoi(v);
		else if (!strcmp(o, "--remote-port")) remote_port = atoi(v);
		else if (!strcmp(o, "--udp-port")) udp_port = atoi(v);
		else if (!strcmp(o, "--peer-udp-port")) peer_udp_port = atoi(v);
		else if (!strcmp(o, "--assocs")) assocs = atol(v);
		else if (!strcmp(o, "--count")) count = atol(v);
		else if (!strcmp(o, "--length")) length = atol(v);
		else if (!strcmp(o, "--time")) time_limit = atof(v);
		else if (!strcmp(o, "--concurrency")) concurrency = atol(v);
		else if (!strcmp(o, "--api")) setup_api = v;
		else { fprintf(stderr, "usrsctp-bench: unknown option %s\n", o); return 2; }
	}
	if (concurrency < 1 || concurrency > 10000 || (strcmp(setup_api, "threads") && strcmp(setup_api, "nonblocking"))) {
		fprintf(stderr, "usrsctp-bench: --concurrency 1...10000, --api threads|nonblocking\n");
		return 2;
	}
	if (count < 1 || length < 1 || time_limit <= 0 || udp_port <= 0 || peer_udp_port <= 0) {
		fprintf(stderr, "usrsctp-bench: --udp-port and --peer-udp-port are required; --count, --length, --time positive\n");
		return 2;
	}
	pthread_t wd;
	pthread_create(&wd, NULL, watchdog, NULL);
	usrsctp_init((uint16_t)udp_port, NULL, NULL);
	usrsctp_sysctl_set_sctp_debug_on(0);
	usrsctp_sysctl_set_sctp_no_csum_on_loopback(0);
	if (!strcmp(mode, "server")) return server();
	if (!strcmp(mode, "setup")) return setup(0);
	if (!strcmp(mode, "hold")) return setup(1);
	if (!strcmp(mode, "rtt")) return rtt();
	fprintf(stderr, "usrsctp-bench: unknown mode %s\n", mode);
	return 2;
}
