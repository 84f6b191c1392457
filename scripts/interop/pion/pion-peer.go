// pion-peer: a pion/sctp peer for swift-sctp's interop tests.
//
// SCTP packets travel as UDP payloads on loopback (what swift-sctp's UDP encapsulation
// transport speaks; pion/sctp itself runs over any net.Conn, DTLS in WebRTC). Built offline
// from Debian's golang-github-pion-sctp-dev in GOPATH mode by build-pion-peer.sh.
//
//	pion-peer server --bind ADDR [--udp-port U] [--mode echo|verify|discard] [--timeout S]
//	pion-peer client --bind ADDR [--udp-port U] --connect ADDR:UDPPORT [--messages N]
//	    [--length L|MIN-MAX] [--seed S] [--streams K] [--unordered] [--echo] [--close-streams]
//	    [--timeout S]
//
// Messages follow usrsctp-peer's pattern (scripts/interop/README.md): bytes 0..3 the
// message's sequence number within its stream, 4..5 the stream, 6..7 0xA5 0x5A, 8..11 the
// length, then (seq*7 + stream*13 + i) & 0xFF; PPID 0x50455246 ordered, 0x50455247 unordered.
//
// Output on stdout, one line each: READY udp=U port=P; ASSOC_UP; STREAM_CLOSED stream=N
// (--close-streams: pion's Stream.Close sent an Outgoing SSN Reset Request);
// STREAM_RESET stream=N (the peer reset its outgoing stream: the read ended with EOF);
// ASSOC_DOWN reason=shutdown|closed; RESULT role=... messages_sent=N messages_received=N
// bytes_received=N verify_errors=N echo_mismatches=N; ERROR ... (also on stderr).
// pion's own log lines go to stderr.
//
// Exit codes: 0 success, 1 verify errors or echo mismatches, 2 usage or setup error,
// 3 timeout (no progress for --timeout seconds), 4 fewer messages than asked.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/logging"
	"github.com/pion/sctp"
)

const (
	ppidOrdered   = 0x50455246
	ppidUnordered = 0x50455247
	// The SCTP port pion uses (it has no choice of its own: WebRTC's 5000).
	pionPort = 5000
)

var (
	outputLock   sync.Mutex
	lastProgress atomic.Int64
	waitingFor   atomic.Value
)

func say(format string, args ...interface{}) {
	outputLock.Lock()
	defer outputLock.Unlock()
	line := fmt.Sprintf(format, args...)
	fmt.Fprintln(os.Stdout, line)
	if strings.HasPrefix(line, "ERROR") {
		fmt.Fprintln(os.Stderr, line)
	}
}

func diagnose(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "[pion-peer] "+format+"\n", args...)
}

func fail(code int, format string, args ...interface{}) {
	say("ERROR "+format, args...)
	os.Exit(code)
}

func progress(what string) {
	lastProgress.Store(time.Now().UnixNano())
	waitingFor.Store(what)
}

// watchdog ends the program when nothing has progressed for `limit`.
func watchdog(limit time.Duration, counters func() string) {
	ticker := time.NewTicker(100 * time.Millisecond)
	go func() {
		for range ticker.C {
			if time.Since(time.Unix(0, lastProgress.Load())) > limit {
				what, _ := waitingFor.Load().(string)
				diagnose("counters so far: %s", counters())
				fail(3, "timeout after %d s without progress waiting for %s", int(limit.Seconds()), what)
			}
		}
	}()
}

// MARK: options

type options struct {
	role         string
	bind         string
	udpPort      int
	connect      string
	mode         string
	messages     int
	minLength    int
	maxLength    int
	seed         uint64
	streams      int
	unordered    bool
	echo         bool
	closeStreams bool
	timeout      int
}

func parse(args []string) options {
	if len(args) < 1 || (args[0] != "server" && args[0] != "client") {
		fail(2, "usage: pion-peer server|client --bind ADDR ...")
	}
	o := options{role: args[0], mode: "discard", messages: 1000, minLength: 1024, maxLength: 1024, seed: 1,
		streams: 4, timeout: 30}
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		name, value, hasValue := strings.Cut(rest[i], "=")
		flag := func() bool { return !hasValue }
		next := func() string {
			if hasValue {
				return value
			}
			if i+1 >= len(rest) {
				fail(2, "usage: %s needs a value", name)
			}
			i++
			return rest[i]
		}
		number := func() int {
			v := next()
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				fail(2, "usage: %s: not a number: %s", name, v)
			}
			return n
		}
		switch name {
		case "--bind":
			o.bind = next()
		case "--udp-port":
			o.udpPort = number()
		case "--connect":
			o.connect = next()
		case "--mode":
			o.mode = next()
		case "--messages":
			o.messages = number()
		case "--length":
			v := next()
			low, high, isRange := strings.Cut(v, "-")
			a, errA := strconv.Atoi(low)
			b := a
			var errB error
			if isRange {
				b, errB = strconv.Atoi(high)
			}
			if errA != nil || errB != nil || a < 12 || b < a {
				fail(2, "usage: --length L or MIN-MAX, at least 12: %s", v)
			}
			o.minLength, o.maxLength = a, b
		case "--seed":
			o.seed = uint64(number())
		case "--streams":
			o.streams = number()
		case "--unordered":
			o.unordered = flag()
		case "--echo":
			o.echo = flag()
		case "--close-streams":
			o.closeStreams = flag()
		case "--timeout":
			o.timeout = number()
		default:
			fail(2, "usage: unknown option %s", rest[i])
		}
	}
	if o.bind == "" {
		fail(2, "usage: --bind is required")
	}
	if ip := net.ParseIP(o.bind); ip == nil || !ip.IsLoopback() {
		// Loopback only: the interop tests never send anywhere else.
		fail(2, "usage: --bind must be a loopback address: %s", o.bind)
	}
	if o.role == "client" && o.connect == "" {
		fail(2, "usage: the client needs --connect ADDR:UDPPORT")
	}
	if o.mode != "echo" && o.mode != "verify" && o.mode != "discard" {
		fail(2, "usage: --mode echo|verify|discard")
	}
	if o.streams < 1 || o.streams > 65535 {
		fail(2, "usage: --streams 1...65535")
	}
	return o
}

// MARK: the message pattern

type splitmix struct{ state uint64 }

func (s *splitmix) next() uint64 {
	s.state += 0x9E3779B97F4A7C15
	z := s.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func patternMessage(seq uint32, stream uint16, length int) []byte {
	m := make([]byte, length)
	binary.BigEndian.PutUint32(m[0:], seq)
	binary.BigEndian.PutUint16(m[4:], stream)
	m[6], m[7] = 0xA5, 0x5A
	binary.BigEndian.PutUint32(m[8:], uint32(length))
	for i := 12; i < length; i++ {
		m[i] = byte(int(seq)*7 + int(stream)*13 + i)
	}
	return m
}

// verifier checks received messages against the pattern, per stream.
type verifier struct {
	lock     sync.Mutex
	expected map[uint16]uint32
	received int
	bytes    int
	errors   int
}

func newVerifier() *verifier { return &verifier{expected: map[uint16]uint32{}} }

func (v *verifier) check(m []byte, stream uint16, ppid sctp.PayloadProtocolIdentifier) {
	v.lock.Lock()
	defer v.lock.Unlock()
	v.received++
	v.bytes += len(m)
	complain := func(format string, args ...interface{}) {
		v.errors++
		if v.errors <= 10 {
			diagnose("message %d on stream %d: "+format, append([]interface{}{v.received, stream}, args...)...)
		}
	}
	if len(m) < 12 {
		complain("only %d bytes", len(m))
		return
	}
	seq := binary.BigEndian.Uint32(m[0:])
	unordered := ppid == ppidUnordered
	switch {
	case ppid != ppidOrdered && !unordered:
		complain("PPID %#x", uint32(ppid))
	case binary.BigEndian.Uint16(m[4:]) != stream:
		complain("stream field %d", binary.BigEndian.Uint16(m[4:]))
	case m[6] != 0xA5 || m[7] != 0x5A:
		complain("no marker")
	case int(binary.BigEndian.Uint32(m[8:])) != len(m):
		complain("length field %d, %d bytes", binary.BigEndian.Uint32(m[8:]), len(m))
	default:
		for i := 12; i < len(m); i++ {
			if m[i] != byte(int(seq)*7+int(stream)*13+i) {
				complain("byte %d", i)
				break
			}
		}
	}
	if !unordered {
		if want := v.expected[stream]; seq != want {
			complain("sequence %d, expected %d", seq, want)
		}
		v.expected[stream] = seq + 1
	}
}

func (v *verifier) counts() (int, int, int) {
	v.lock.Lock()
	defer v.lock.Unlock()
	return v.received, v.bytes, v.errors
}

// MARK: the UDP "connection"

// udpPeerConn is a net.Conn over an unconnected UDP socket: the first datagram's source
// becomes the peer, datagrams from elsewhere are dropped, writes go to the peer.
type udpPeerConn struct {
	*net.UDPConn
	lock sync.Mutex
	peer *net.UDPAddr
}

func (c *udpPeerConn) Read(b []byte) (int, error) {
	for {
		n, from, err := c.UDPConn.ReadFromUDP(b)
		if err != nil {
			return n, err
		}
		c.lock.Lock()
		if c.peer == nil {
			c.peer = from
		}
		same := c.peer.IP.Equal(from.IP) && c.peer.Port == from.Port
		c.lock.Unlock()
		if same {
			return n, nil
		}
	}
}

func (c *udpPeerConn) Write(b []byte) (int, error) {
	c.lock.Lock()
	peer := c.peer
	c.lock.Unlock()
	if peer == nil {
		return 0, errors.New("no peer yet")
	}
	return c.UDPConn.WriteToUDP(b, peer)
}

func (c *udpPeerConn) RemoteAddr() net.Addr {
	c.lock.Lock()
	defer c.lock.Unlock()
	if c.peer == nil {
		return nil
	}
	return c.peer
}

// MARK: main

func main() {
	o := parse(os.Args[1:])
	factory := logging.NewDefaultLoggerFactory()
	factory.Writer = os.Stderr
	// Warnings too: pion says why it drops a packet ("unable to parse SCTP packet") only there.
	factory.DefaultLogLevel = logging.LogLevelWarn
	config := sctp.Config{LoggerFactory: factory, MaxReceiveBufferSize: 1 << 20}
	local, err := net.ResolveUDPAddr("udp", net.JoinHostPort(o.bind, strconv.Itoa(o.udpPort)))
	if err != nil {
		fail(2, "bind %s: %v", o.bind, err)
	}
	progress("setup")
	received := newVerifier()
	var sent atomic.Int64
	counters := func() string {
		r, b, e := received.counts()
		return fmt.Sprintf("messages_sent=%d messages_received=%d bytes_received=%d verify_errors=%d",
			sent.Load(), r, b, e)
	}
	watchdog(time.Duration(o.timeout)*time.Second, counters)
	if o.role == "server" {
		runServer(o, config, local, received, &sent)
	} else {
		runClient(o, config, local, received, &sent)
	}
}

func establish(role string, open func() (*sctp.Association, error)) *sctp.Association {
	progress("the association")
	type outcome struct {
		a   *sctp.Association
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		a, err := open()
		done <- outcome{a, err}
	}()
	result := <-done // the watchdog bounds the wait
	if result.err != nil {
		fail(2, "connect %v", result.err)
	}
	progress("data")
	say("ASSOC_UP role=%s", role)
	return result.a
}

// waitForEnd waits until the association has ended (every stream accepted meanwhile is
// handed to `serve`), then prints ASSOC_DOWN.
func waitForEnd(a *sctp.Association, serve func(*sctp.Stream), reason string) {
	progress("the end of the association")
	for {
		s, err := a.AcceptStream()
		if err != nil {
			break
		}
		serve(s)
	}
	say("ASSOC_DOWN reason=%s", reason)
}

func runServer(o options, config sctp.Config, local *net.UDPAddr, received *verifier, sent *atomic.Int64) {
	socket, err := net.ListenUDP("udp", local)
	if err != nil {
		fail(2, "bind %v", err)
	}
	conn := &udpPeerConn{UDPConn: socket}
	say("READY udp=%d port=%d", socket.LocalAddr().(*net.UDPAddr).Port, pionPort)
	config.NetConn = conn
	a := establish("server", func() (*sctp.Association, error) { return sctp.Server(config) })
	var echoes atomic.Int64
	var readers sync.WaitGroup
	serve := func(s *sctp.Stream) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buffer := make([]byte, 1<<20)
			for {
				n, ppid, err := s.ReadSCTP(buffer)
				if err != nil {
					if errors.Is(err, io.EOF) {
						say("STREAM_RESET stream=%d", s.StreamIdentifier())
					}
					return
				}
				progress("data")
				message := append([]byte(nil), buffer[:n]...)
				if o.mode != "discard" {
					received.check(message, s.StreamIdentifier(), ppid)
				} else {
					received.lock.Lock()
					received.received++
					received.bytes += n
					received.lock.Unlock()
				}
				if o.mode == "echo" {
					s.SetReliabilityParams(ppid == ppidUnordered, sctp.ReliabilityTypeReliable, 0)
					if _, err := s.WriteSCTP(message, ppid); err != nil {
						diagnose("echo on stream %d: %v", s.StreamIdentifier(), err)
						return
					}
					echoes.Add(1)
					sent.Add(1)
				}
			}
		}()
	}
	waitForEnd(a, serve, "shutdown")
	readers.Wait()
	_ = a.Close()
	r, b, e := received.counts()
	say("RESULT role=server assocs=1 messages_sent=%d messages_received=%d bytes_received=%d verify_errors=%d echo_mismatches=0",
		echoes.Load(), r, b, e)
	if e > 0 {
		os.Exit(1)
	}
}

func runClient(o options, config sctp.Config, local *net.UDPAddr, received *verifier, sent *atomic.Int64) {
	remote, err := net.ResolveUDPAddr("udp", o.connect)
	if err != nil || remote.IP == nil || !remote.IP.IsLoopback() {
		fail(2, "usage: --connect must be a loopback ADDR:UDPPORT: %s", o.connect)
	}
	socket, err := net.DialUDP("udp", local, remote)
	if err != nil {
		fail(2, "bind %v", err)
	}
	say("READY udp=%d port=%d", socket.LocalAddr().(*net.UDPAddr).Port, pionPort)
	config.NetConn = socket
	a := establish("client", func() (*sctp.Association, error) { return sctp.Client(config) })

	ppid := sctp.PayloadProtocolIdentifier(ppidOrdered)
	if o.unordered {
		ppid = ppidUnordered
	}
	streams := make([]*sctp.Stream, o.streams)
	for i := range streams {
		s, err := a.OpenStream(uint16(i), ppid)
		if err != nil {
			fail(2, "open stream %d: %v", i, err)
		}
		s.SetReliabilityParams(o.unordered, sctp.ReliabilityTypeReliable, 0)
		streams[i] = s
	}
	// Echoes (and, with --close-streams, the peer's resets) are read per stream.
	var readers sync.WaitGroup
	echoed := make(chan struct{})
	var echoCount atomic.Int64
	for _, s := range streams {
		readers.Add(1)
		go func(s *sctp.Stream) {
			defer readers.Done()
			buffer := make([]byte, 1<<20)
			for {
				n, ppid, err := s.ReadSCTP(buffer)
				if err != nil {
					if errors.Is(err, io.EOF) {
						say("STREAM_RESET stream=%d", s.StreamIdentifier())
					}
					return
				}
				progress("echoes")
				received.check(append([]byte(nil), buffer[:n]...), s.StreamIdentifier(), ppid)
				if echoCount.Add(1) == int64(o.messages) {
					close(echoed)
				}
			}
		}(s)
	}

	// Bytes sent and not yet acknowledged by the peer, over all streams.
	buffered := func() uint64 {
		total := uint64(0)
		for _, s := range streams {
			total += s.BufferedAmount()
		}
		return total
	}
	random := splitmix{state: o.seed}
	sequence := make([]uint32, o.streams)
	for i := 0; i < o.messages; i++ {
		stream := i % o.streams
		length := o.minLength
		if o.maxLength > o.minLength {
			length = o.minLength + int(random.next()%uint64(o.maxLength-o.minLength+1))
		}
		message := patternMessage(sequence[stream], uint16(stream), length)
		sequence[stream]++
		// pion queues without bound: keep at most 1 MiB buffered, waiting for the rest.
		for buffered() > 1<<20 {
			time.Sleep(time.Millisecond)
		}
		if _, err := streams[stream].WriteSCTP(message, ppid); err != nil {
			fail(4, "send %v after %d messages", err, i)
		}
		sent.Add(1)
		progress("sending")
	}
	if o.echo && o.messages > 0 {
		progress("echoes")
		<-echoed // the watchdog bounds the wait
	}
	for buffered() > 0 {
		progress("the last data to be acknowledged")
		time.Sleep(time.Millisecond)
	}
	if o.closeStreams {
		// pion's Stream.Close resets the outgoing stream (RFC 6525 Outgoing SSN Reset Request).
		for _, s := range streams {
			if err := s.Close(); err != nil {
				fail(2, "close stream %d: %v", s.StreamIdentifier(), err)
			}
			say("STREAM_CLOSED stream=%d", s.StreamIdentifier())
		}
		// The peer ends the association once it has seen the resets.
		waitForEnd(a, func(*sctp.Stream) {}, "closed")
	} else {
		progress("the shutdown")
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.timeout)*time.Second)
		err := a.Shutdown(ctx)
		cancel()
		if err != nil {
			fail(4, "shutdown %v", err)
		}
		say("ASSOC_DOWN reason=shutdown")
	}
	_ = a.Close()
	readers.Wait()
	r, b, e := received.counts()
	mismatches := 0
	if o.echo && r != o.messages {
		mismatches = o.messages - r
	}
	say("RESULT role=client assocs=1 messages_sent=%d messages_received=%d bytes_received=%d verify_errors=%d echo_mismatches=%d",
		sent.Load(), r, b, e, mismatches)
	if e > 0 || mismatches > 0 {
		os.Exit(1)
	}
}
