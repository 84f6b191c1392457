/*
 * What the CSCTPSystem sources share: the system headers they use and the UDP offload
 * constants older C libraries lack. Include after defining _GNU_SOURCE.
 */
#ifndef CSCTP_INTERNAL_H
#define CSCTP_INTERNAL_H

#include "CSCTPSystem.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/ip.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#endif
