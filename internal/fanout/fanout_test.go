package fanout_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/fanout"
	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/svctest"
)

// inbox collects delivered notices.
type inbox struct {
	mu   sync.Mutex
	got  []fanout.Notice
	cond *sync.Cond
}

func newInbox(s fanout.Subscriber) *inbox {
	in := &inbox{}
	in.cond = sync.NewCond(&in.mu)
	s.Subscribe(func(n fanout.Notice) {
		in.mu.Lock()
		in.got = append(in.got, n)
		in.cond.Broadcast()
		in.mu.Unlock()
	})
	return in
}

// wait returns the notices once there are n, or fails after d (on a
// quiet machine, LATCH_TEST_TIMING=1; otherwise after at least 15 s).
func (in *inbox) wait(t *testing.T, n int, d time.Duration) []fanout.Notice {
	t.Helper()
	if !svctest.Timing() {
		d = max(d, 15*time.Second)
	}
	timer := time.AfterFunc(d, func() { in.mu.Lock(); in.cond.Broadcast(); in.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(d)
	in.mu.Lock()
	defer in.mu.Unlock()
	for len(in.got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d notices within %v, want %d: %+v", len(in.got), d, n, in.got)
		}
		in.cond.Wait()
	}
	return append([]fanout.Notice(nil), in.got...)
}

func (in *inbox) len() int { in.mu.Lock(); defer in.mu.Unlock(); return len(in.got) }

func TestLocal(t *testing.T) {
	var hub fanout.Local
	in := newInbox(&hub)
	onEvent := fanout.OnEvent(&hub)
	ctx := context.Background()
	onEvent(ctx, auth.Event{Type: auth.EventLogin, UserID: "u1"})                   // quiet
	onEvent(ctx, auth.Event{Type: auth.EventLogout, UserID: "u1", SessionID: "s1"}) // revokes
	onEvent(ctx, auth.Event{Type: "role_changed", UserID: "u2"})                    // revokes
	got := in.wait(t, 2, time.Second)
	if len(got) != 2 || got[0].Type != auth.EventLogout || got[0].SessionID != "s1" || got[1].Type != "role_changed" {
		t.Errorf("notices: got %+v, want logout of s1, then role_changed", got)
	}
}

func newHub(t *testing.T, url, channel string, onError func(error)) *fanout.Redis {
	t.Helper()
	opt, err := limit.RedisOptions(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	h := fanout.NewRedis(c, fanout.RedisConfig{Channel: channel, OnError: onError})
	t.Cleanup(func() { h.Close(); c.Close() })
	return h
}

func ready(t *testing.T, hubs ...*fanout.Redis) {
	t.Helper()
	for _, h := range hubs {
		select {
		case <-h.Ready():
		case <-time.After(5 * time.Second):
			t.Fatal("subscription not confirmed within 5s")
		}
	}
}

// A notice published on one instance reaches the others within a second,
// and the publisher's own subscribers exactly once.
func TestRedisAcrossInstances(t *testing.T) {
	url, prefix := svctest.Redis(t)
	a := newHub(t, url, prefix+"revocations", nil)
	b := newHub(t, url, prefix+"revocations", nil)
	c := newHub(t, url, prefix+"revocations", nil)
	ready(t, a, b, c)
	inA, inB, inC := newInbox(a), newInbox(b), newInbox(c)

	at := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	fanout.OnEvent(a)(context.Background(), auth.Event{Type: auth.EventLogout, UserID: "u1", SessionID: "s1", At: at})
	for name, in := range map[string]*inbox{"B": inB, "C": inC} {
		got := in.wait(t, 1, time.Second)
		if n := got[0]; n.Type != auth.EventLogout || n.UserID != "u1" || n.SessionID != "s1" || !n.At.Equal(at) || n.Origin != a.Origin() {
			t.Errorf("instance %s got %+v, want the logout of s1 from %s", name, n, a.Origin())
		}
	}
	inA.wait(t, 1, time.Second)
	// Let B's and C's notices prove the channel is drained, then check A
	// did not get its own notice twice.
	fanout.OnEvent(b)(context.Background(), auth.Event{Type: auth.EventSessionEnded, SessionID: "s2"})
	inA.wait(t, 2, time.Second)
	inC.wait(t, 2, time.Second)
	if n := inA.len(); n != 2 {
		t.Errorf("instance A got %d notices, want 2 (its own once, B's once)", n)
	}
}

// While Redis is unreachable publishing fails fast (reported to OnError);
// once it is back the subscription resumes by itself.
func TestRedisOutage(t *testing.T) {
	url, prefix := svctest.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	p := svctest.NewProxy(t, opt.Addr)
	var mu sync.Mutex
	errs := 0
	a := newHub(t, "redis://"+p.Addr()+"/0", prefix+"rev", func(error) { mu.Lock(); errs++; mu.Unlock() })
	b := newHub(t, url, prefix+"rev", nil)
	ready(t, a, b)
	inA := newInbox(a)

	p.Cut()
	start := time.Now()
	if err := a.Publish(context.Background(), fanout.Notice{Type: auth.EventLogout, SessionID: "lost"}); err != nil {
		t.Errorf("Publish while Redis is down: %v (it queues, never fails the caller)", err)
	}
	if took := time.Since(start); svctest.Timing() && took > 100*time.Millisecond {
		t.Errorf("Publish while Redis is down took %v", took)
	}
	inA.wait(t, 1, time.Second) // local delivery still works

	p.Restore()
	// B publishes until A hears it again (A re-subscribes with backoff).
	deadline := time.Now().Add(10 * time.Second)
	for inA.len() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("instance A never heard from B after Redis came back")
		}
		b.Publish(context.Background(), fanout.Notice{Type: auth.EventLogout, SessionID: "after"})
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if errs == 0 {
		t.Errorf("OnError was not called during the outage")
	}
}
