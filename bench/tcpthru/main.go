// Command tcpthru measures TCP throughput for the network benchmark
// (bench/network.sh). It is built static, so that the same binary serves
// inside a busybox container and sends from the host:
//
//	tcpthru -serve :5001                  discard what each connection sends
//	tcpthru -to 127.0.0.1:8080 -t 5 -P 1  send for 5 s on 1 connection
//
// The sender prints one JSON line: {"bytes":N,"seconds":S,"gbits":G,
// "cpu":C}, counting what the server says it read after EOF, so that
// bytes still in buffers at the end are not counted as carried; C is the
// sender's own CPU time (user and system) in seconds.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	serve := flag.String("serve", "", "listen on this address and discard what comes")
	to := flag.String("to", "", "send to this address")
	secs := flag.Float64("t", 5, "seconds to send")
	conns := flag.Int("P", 1, "connections at once")
	flag.Parse()
	var err error
	switch {
	case *serve != "":
		err = serveDiscard(*serve)
	case *to != "":
		err = send(*to, time.Duration(*secs*float64(time.Second)), *conns)
	default:
		err = fmt.Errorf("give -serve ADDR or -to ADDR")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpthru:", err)
		os.Exit(1)
	}
}

// serveDiscard reads each connection to its end, then writes the number
// of bytes it read back, so that the sender knows what arrived.
func serveDiscard(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
			fmt.Fprintf(c, "%d\n", n)
		}()
	}
}

func send(addr string, d time.Duration, conns int) error {
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := sendOne(addr, start.Add(d))
			total.Add(n)
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{
		"bytes": float64(total.Load()), "seconds": elapsed, "gbits": float64(total.Load()) * 8 / elapsed / 1e9, "cpu": cpu,
	})
}

// sendOne writes until the deadline, half-closes, and returns the count
// the server read.
func sendOne(addr string, deadline time.Time) (int64, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	// A path that stops carrying fails the send rather than hanging it.
	c.SetWriteDeadline(deadline.Add(30 * time.Second))
	for time.Now().Before(deadline) {
		if _, err := c.Write(buf); err != nil {
			return 0, err
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var n int64
	if _, err := fmt.Fscan(c, &n); err != nil {
		return 0, fmt.Errorf("read the server's count: %w", err)
	}
	return n, nil
}
