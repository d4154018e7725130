package svctest

import (
	"errors"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy in front of a service that a test can cut and
// restore, standing for a network failure or a stopped server without
// disturbing other tests that use the same service.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	hang  bool          // accept but forward nothing (a black hole)
	thaw  chan struct{} // non-nil while frozen: closed by Thaw
	wg    sync.WaitGroup
}

// NewProxy listens on a free local port and forwards to target until t
// ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("svctest: proxy: %v", err)
	}
	p := &Proxy{t: t, target: target, addr: ln.Addr().String(), conns: make(map[net.Conn]struct{})}
	p.serve(ln)
	t.Cleanup(func() {
		p.Thaw()
		p.mu.Lock()
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		p.dropLocked()
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = struct{}{}
			hang := p.hang
			p.mu.Unlock()
			if hang {
				continue // held open, never answered
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.pipe(c)
			}()
		}
	}()
}

func (p *Proxy) pipe(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, up)
		p.mu.Unlock()
		up.Close()
	}()
	done := make(chan struct{}, 2)
	go func() { p.copy(up, c); done <- struct{}{} }()
	go func() { p.copy(c, up); done <- struct{}{} }()
	<-done
}

// copy forwards src to dst, holding data while the proxy is frozen.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			thaw := p.thaw
			p.mu.Unlock()
			if thaw != nil {
				<-thaw
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze keeps every connection open and accepts new ones but forwards
// nothing until Thaw, as a stopped (SIGSTOP) or stalled server would;
// then what was held goes through.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thaw == nil {
		p.thaw = make(chan struct{})
	}
}

// Thaw ends Freeze.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.thaw != nil {
		close(p.thaw)
		p.thaw = nil
	}
}

func (p *Proxy) dropLocked() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Cut drops every connection and refuses new ones, as a stopped server
// would.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.dropLocked()
}

// BlackHole drops every connection and accepts new ones without ever
// answering, as an unreachable network would.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	p.hang = true
	p.dropLocked()
	ln := p.ln
	p.mu.Unlock()
	if ln == nil {
		p.listen()
	}
}

// Restore forwards again.
func (p *Proxy) Restore() {
	p.Thaw()
	p.mu.Lock()
	p.hang = false
	for c := range p.conns { // black-holed connections
		c.Close()
	}
	clear(p.conns)
	ln := p.ln
	p.mu.Unlock()
	if ln == nil {
		p.listen()
	}
}

func (p *Proxy) listen() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		if !errors.Is(err, net.ErrClosed) {
			p.t.Errorf("svctest: proxy: listening again on %s: %v", p.addr, err)
		}
		return
	}
	p.mu.Lock()
	p.serve(ln)
	p.mu.Unlock()
}
