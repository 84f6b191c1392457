/*
 * lossy-relay: a UDP relay between two SCTP-over-UDP peers on loopback that drops datagrams
 * at a given probability, both directions, decided by a seeded PRNG (splitmix64, one per
 * direction): the loss part of Benchmarks/run.sh. Fixed ports, 127.0.0.1 only:
 *
 *    client (UDP port C) ──► L  relay  R ──► server (UDP port S)
 *    client ◄── (from L) ───     relay     ◄── server sends to R
 *
 *   lossy-relay --left-port L --left-peer C --right-port R --right-peer S
 *               [--loss P] [--seed N] [--trace FILE] --time T
 *
 * A datagram arriving on L goes out of R to S, one arriving on R goes out of L to C; each is
 * dropped with probability P (0...1). One thread, poll on both sockets, recvmmsg / sendmmsg
 * 64 datagrams per call, 8 MB socket buffers where allowed, so that the relay is not what
 * limits a transfer. Prints READY once both sockets are bound; on SIGTERM / SIGINT, or after
 * --time seconds, one JSON line with the counts of each direction, then exits.
 * --trace FILE: one line per datagram (time, direction, dropped or not, and its SCTP chunks:
 * DATA/I-DATA with TSN and flags, SACK and NR-SACK with cumulative TSN, window, gap blocks and
 * duplicates, other chunks by type), for finding out where a transfer stalls.
 *
 * Build: cc -O2 -o lossy-relay lossy-relay.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXDGRAM 65536

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static uint64_t splitmix64(uint64_t *state) {
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double now_s(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct sockaddr_in loopback(int port) {
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int open_socket(int port) {
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) { perror("lossy-relay: socket"); exit(2); }
	int size = 8 << 20;
	/* SO_*BUFFORCE needs CAP_NET_ADMIN; otherwise the plain option, capped by rmem_max/wmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	struct sockaddr_in a = loopback(port);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "lossy-relay: bind 127.0.0.1:%d: %s\n", port, strerror(errno));
		exit(2);
	}
	return fd;
}

struct direction {
	const char *name;
	int from, to;              /* receive on `from`, send out of `to` */
	struct sockaddr_in peer;   /* where `to` sends */
	uint64_t random;
	unsigned long long received, dropped, sent, send_errors, bytes;
};

static char buffers[BATCH][MAXDGRAM];
static FILE *trace;
static double started;

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint16_t be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* One trace line: the SCTP packet's chunks (UDP payload = SCTP common header + chunks). */
static void trace_datagram(const char *dir, const unsigned char *p, size_t n, int dropped) {
	fprintf(trace, "%.6f %s%s", now_s() - started, dir, dropped ? " DROP" : "");
	size_t off = 12;
	while (off + 4 <= n) {
		unsigned type = p[off], flags = p[off + 1], len = be16(p + off + 2);
		if (len < 4) break;
		if ((type == 0 || type == 64) && off + 8 <= n) fprintf(trace, " D%u:%x", be32(p + off + 4), flags);
		else if (type == 3 && off + 16 <= n)
			fprintf(trace, " SACK(cum %u rwnd %u gaps %u dups %u)", be32(p + off + 4), be32(p + off + 8), be16(p + off + 12),
			        be16(p + off + 14));
		else if (type == 16 && off + 20 <= n)  /* NR-SACK: gap blocks, NR gap blocks, duplicates */
			fprintf(trace, " NR-SACK(cum %u rwnd %u gaps %u nr %u dups %u)", be32(p + off + 4), be32(p + off + 8),
			        be16(p + off + 12), be16(p + off + 14), be16(p + off + 16));
		else fprintf(trace, " C%u", type);
		off += (len + 3u) & ~3u;
	}
	fputc('\n', trace);
}

/* Reads what waits on d->from (up to BATCH per call, until none), forwards what survives. */
static void relay(struct direction *d, double loss) {
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov[BATCH], oiov[BATCH];
	const uint64_t threshold = loss >= 1 ? UINT64_MAX : (uint64_t)(loss * 18446744073709551616.0);
	for (int rounds = 0; rounds < 16; rounds++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = buffers[i];
			iov[i].iov_len = MAXDGRAM;
			memset(&in[i].msg_hdr, 0, sizeof(in[i].msg_hdr));
			in[i].msg_hdr.msg_iov = &iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(d->from, in, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) return;
		int m = 0;
		for (int i = 0; i < n; i++) {
			d->received++;
			if (loss > 0 && splitmix64(&d->random) < threshold) {
				d->dropped++;
				if (trace) trace_datagram(d->name, (unsigned char *)buffers[i], in[i].msg_len, 1);
				continue;
			}
			if (trace) trace_datagram(d->name, (unsigned char *)buffers[i], in[i].msg_len, 0);
			oiov[m].iov_base = buffers[i];
			oiov[m].iov_len = in[i].msg_len;
			d->bytes += in[i].msg_len;
			memset(&out[m].msg_hdr, 0, sizeof(out[m].msg_hdr));
			out[m].msg_hdr.msg_iov = &oiov[m];
			out[m].msg_hdr.msg_iovlen = 1;
			out[m].msg_hdr.msg_name = &d->peer;
			out[m].msg_hdr.msg_namelen = sizeof(d->peer);
			m++;
		}
		int done = 0;
		while (done < m) {
			int k = sendmmsg(d->to, out + done, (unsigned)(m - done), 0);
			if (k < 0) {
				if (errno == EINTR) continue;
				/* ECONNREFUSED (the peer is gone) and the like: count the datagram, go on. */
				d->send_errors++;
				done++;
				continue;
			}
			d->sent += (unsigned long long)k;
			done += k;
		}
		if (n < BATCH) return;
	}
}

int main(int argc, char **argv) {
	int left_port = 0, left_peer = 0, right_port = 0, right_peer = 0;
	double loss = 0, time_limit = 0;
	uint64_t seed = 1;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) { fprintf(stderr, "lossy-relay: %s needs a value\n", o); return 2; }
		i++;
		if (!strcmp(o, "--left-port")) left_port = atoi(v);
		else if (!strcmp(o, "--left-peer")) left_peer = atoi(v);
		else if (!strcmp(o, "--right-port")) right_port = atoi(v);
		else if (!strcmp(o, "--right-peer")) right_peer = atoi(v);
		else if (!strcmp(o, "--loss")) loss = atof(v);
		else if (!strcmp(o, "--seed")) seed = strtoull(v, NULL, 0);
		else if (!strcmp(o, "--time")) time_limit = atof(v);
		else if (!strcmp(o, "--trace")) {
			if (!(trace = fopen(v, "w"))) { perror("lossy-relay: --trace"); return 2; }
		}
		else { fprintf(stderr, "lossy-relay: unknown option %s\n", o); return 2; }
	}
	if (left_port <= 0 || left_peer <= 0 || right_port <= 0 || right_peer <= 0 || time_limit <= 0 || loss < 0 || loss > 1) {
		fprintf(stderr, "usage: lossy-relay --left-port L --left-peer C --right-port R --right-peer S [--loss 0..1] "
		                "[--seed N] --time SECONDS\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	int left = open_socket(left_port), right = open_socket(right_port);
	struct direction dirs[2] = {
		{.name = "to_right", .from = left, .to = right, .peer = loopback(right_peer), .random = seed ^ 0x1EF71EF7ull},
		{.name = "to_left", .from = right, .to = left, .peer = loopback(left_peer), .random = seed ^ 0x72164700ull},
	};
	printf("READY\n");
	fflush(stdout);
	started = now_s();
	double end = started + time_limit;
	struct pollfd fds[2] = {{.fd = left, .events = POLLIN}, {.fd = right, .events = POLLIN}};
	while (!stopping && now_s() < end) {
		int r = poll(fds, 2, 100);
		if (r < 0) {
			if (errno == EINTR) continue;
			perror("lossy-relay: poll");
			break;
		}
		if (fds[0].revents & POLLIN) relay(&dirs[0], loss);
		if (fds[1].revents & POLLIN) relay(&dirs[1], loss);
	}
	printf("{\"loss\": %.4f, \"seed\": %llu", loss, (unsigned long long)seed);
	for (int i = 0; i < 2; i++)
		printf(", \"%s\": {\"received\": %llu, \"dropped\": %llu, \"sent\": %llu, \"send_errors\": %llu, \"bytes\": %llu}",
		       dirs[i].name, dirs[i].received, dirs[i].dropped, dirs[i].sent, dirs[i].send_errors, dirs[i].bytes);
	printf("}\n");
	fflush(stdout);
	if (trace) fclose(trace);
	return 0;
}
