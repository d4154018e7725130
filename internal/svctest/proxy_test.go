package svctest

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echo serves an echo server until t ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// Freeze holds the data of open connections, and of new ones, until Thaw.
func TestProxyFreeze(t *testing.T) {
	p := NewProxy(t, echo(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip := func(c net.Conn, msg string) {
		t.Helper()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(Patience(5 * time.Second)))
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, buf, err)
		}
	}
	roundTrip(c, "before")

	p.Freeze()
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("a new connection while frozen: %v", err)
	}
	defer c2.Close()
	for _, conn := range []net.Conn{c, c2} {
		conn.Write([]byte("held"))
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := conn.Read(make([]byte, 4)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read while frozen: %d bytes, %v; want nothing", n, err)
		}
	}
	p.Thaw()
	for _, conn := range []net.Conn{c, c2} {
		conn.SetReadDeadline(time.Now().Add(Patience(5 * time.Second)))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "held" {
			t.Fatalf("after Thaw: %q, %v; want the held data", buf, err)
		}
	}
	roundTrip(c, "after")
}
