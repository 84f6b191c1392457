/*
 * udp-ceiling: how fast plain UDP moves datagrams of one size over loopback, the
 * ceiling for a user-space SCTP stack over UDP encapsulation (RFC 6951).
 *
 *   udp-ceiling --size BYTES --time SECONDS --mode mmsg|gso-gro [--addr 127.0.0.1]
 *
 * One sender thread and one receiver thread, each on its own socket bound to the given
 * loopback address (port chosen by the kernel):
 *   mmsg     sendmmsg of 64 datagrams per call, recvmmsg of up to 64 per call;
 *   gso-gro  UDP_SEGMENT on the sender (one send carries up to 64 segments of BYTES,
 *            at most 65000 bytes in all; 8 such sends per sendmmsg) and UDP_GRO on the
 *            receiver (recvmmsg of coalesced buffers, segments counted from the
 *            UDP_GRO segment size).
 * The receiver counts what arrives after a 0.2 s warm-up until --time; datagrams the
 * kernel drops (receiver too slow) are not counted. Prints one JSON object:
 *   {"mode": ..., "size": ..., "datagrams_per_second": ..., "mbps": ...}
 * where mbps counts the UDP payload bytes delivered.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define BATCH 64

static int size = 1232, gso;
static double seconds = 2;
static const char *addr_text = "127.0.0.1";
static atomic_int stop;
static struct sockaddr_in receiver_addr;
static int rx_fd;

static double now_s(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what) {
	fprintf(stderr, "udp-ceiling: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int segments_per_send(void) {
	int n = 65000 / size;
	if (n > 64) n = 64;
	return n < 1 ? 1 : n;
}

static void *sender(void *arg) {
	(void)arg;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) die("socket");
	struct sockaddr_in local = receiver_addr;
	local.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) die("bind");
	if (connect(fd, (struct sockaddr *)&receiver_addr, sizeof(receiver_addr)) < 0) die("connect");
	int per = gso ? segments_per_send() : 1;
	int msgs = gso ? 8 : BATCH;
	if (gso && setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &size, sizeof(size)) < 0) die("UDP_SEGMENT");
	size_t bytes = (size_t)size * (size_t)per;
	char *buf = calloc((size_t)msgs, bytes);
	struct mmsghdr hdr[BATCH];
	struct iovec iov[BATCH];
	memset(hdr, 0, sizeof(hdr));
	for (int i = 0; i < msgs; i++) {
		iov[i].iov_base = buf + (size_t)i * bytes;
		iov[i].iov_len = bytes;
		hdr[i].msg_hdr.msg_iov = &iov[i];
		hdr[i].msg_hdr.msg_iovlen = 1;
	}
	double end = now_s() + seconds + 1;
	while (!atomic_load(&stop) && now_s() < end) {
		if (sendmmsg(fd, hdr, (unsigned)msgs, 0) < 0 && errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED) die("sendmmsg");
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv) {
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--size")) size = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--time")) seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--addr")) addr_text = argv[i + 1];
		else if (!strcmp(argv[i], "--mode")) {
			if (!strcmp(argv[i + 1], "mmsg")) gso = 0;
			else if (!strcmp(argv[i + 1], "gso-gro")) gso = 1;
			else { fprintf(stderr, "udp-ceiling: --mode mmsg|gso-gro\n"); return 2; }
		} else { fprintf(stderr, "udp-ceiling: unknown option %s\n", argv[i]); return 2; }
	}
	if (size < 1 || size > 65000 || seconds <= 0 || seconds > 60) {
		fprintf(stderr, "udp-ceiling: --size 1...65000, --time (0, 60]\n");
		return 2;
	}
	memset(&receiver_addr, 0, sizeof(receiver_addr));
	receiver_addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr_text, &receiver_addr.sin_addr) != 1 || (ntohl(receiver_addr.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "udp-ceiling: --addr must be an IPv4 loopback address\n");
		return 2;
	}
	rx_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (rx_fd < 0) die("socket");
	int rcvbuf = 16 << 20;
	if (setsockopt(rx_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(rx_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	const int on = 1;
	if (gso && setsockopt(rx_fd, IPPROTO_UDP, UDP_GRO, &on, sizeof(on)) < 0) die("UDP_GRO");
	struct timeval tv = {0, 100000};
	setsockopt(rx_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(rx_fd, (struct sockaddr *)&receiver_addr, sizeof(receiver_addr)) < 0) die("bind");
	socklen_t len = sizeof(receiver_addr);
	getsockname(rx_fd, (struct sockaddr *)&receiver_addr, &len);

	size_t cap = gso ? 65536 : (size_t)size;
	char *buf = malloc(cap * BATCH);
	struct mmsghdr hdr[BATCH];
	struct iovec iov[BATCH];
	char control[BATCH][CMSG_SPACE(sizeof(int))];

	pthread_t tx;
	if (pthread_create(&tx, NULL, sender, NULL) != 0) die("pthread_create");
	double start = now_s(), warm = start + 0.2, end = warm + seconds;
	uint64_t datagrams = 0, bytes = 0;
	int counting = 0;
	double t0 = warm;
	for (;;) {
		double t = now_s();
		if (t >= end) break;
		if (!counting && t >= warm) { counting = 1; t0 = t; datagrams = bytes = 0; }
		memset(hdr, 0, sizeof(hdr));
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf + (size_t)i * cap;
			iov[i].iov_len = cap;
			hdr[i].msg_hdr.msg_iov = &iov[i];
			hdr[i].msg_hdr.msg_iovlen = 1;
			if (gso) {
				hdr[i].msg_hdr.msg_control = control[i];
				hdr[i].msg_hdr.msg_controllen = sizeof(control[i]);
			}
		}
		int n = recvmmsg(rx_fd, hdr, BATCH, 0, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) continue;
			die("recvmmsg");
		}
		for (int i = 0; i < n; i++) {
			unsigned got = hdr[i].msg_len;
			int segment = 0;
			if (gso) {
				for (struct cmsghdr *c = CMSG_FIRSTHDR(&hdr[i].msg_hdr); c; c = CMSG_NXTHDR(&hdr[i].msg_hdr, c))
					if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) memcpy(&segment, CMSG_DATA(c), sizeof(int));
			}
			datagrams += segment > 0 ? (got + (unsigned)segment - 1) / (unsigned)segment : 1;
			bytes += got;
		}
	}
	double elapsed = now_s() - t0;
	atomic_store(&stop, 1);
	pthread_join(tx, NULL);
	printf("{\"mode\": \"%s\", \"size\": %d, \"datagrams_per_second\": %.0f, \"mbps\": %.1f}\n", gso ? "gso-gro" : "mmsg", size,
	       (double)datagrams / elapsed, (double)bytes * 8 / elapsed / 1e6);
	return 0;
}
