package fanout

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// publishTimeout bounds one PUBLISH.
const publishTimeout = time.Second

// queueSize is how many notices may wait to be published; past it they
// are dropped with a warning (subscribers poll anyway).
const queueSize = 1024

// Redis is a Hub relaying notices through a Redis pub/sub channel.
// Publish delivers to the local subscribers at once and queues the notice
// for Redis; notices from other instances are delivered as they arrive.
// Close stops it.
type Redis struct {
	c       redis.UniversalClient
	channel string
	origin  string
	log     *slog.Logger
	onError func(error)

	subs  subscribers
	queue chan Notice
	ps    *redis.PubSub
	ready chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

var _ Hub = (*Redis)(nil)

// RedisConfig are NewRedis's settings; the zero value is usable.
type RedisConfig struct {
	// Channel is the pub/sub channel (default "latch:revocations").
	Channel string
	// Logger receives warnings (default discard).
	Logger *slog.Logger
	// OnError, when set, is called with every publish or subscription
	// error (metrics).
	OnError func(error)
}

// NewRedis subscribes to the channel on c and starts relaying. It returns
// at once; the subscription is (re-)established in the background while
// Redis is unreachable.
func NewRedis(c redis.UniversalClient, cfg RedisConfig) *Redis {
	if cfg.Channel == "" {
		cfg.Channel = "latch:revocations"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Redis{
		c:       c,
		channel: cfg.Channel,
		origin:  rand.Text()[:16],
		log:     cfg.Logger,
		onError: cfg.OnError,
		queue:   make(chan Notice, queueSize),
		ready:   make(chan struct{}),
		stop:    make(chan struct{}),
	}
	r.ps = c.Subscribe(context.Background(), cfg.Channel)
	r.wg.Add(2)
	go r.publishLoop()
	go r.receiveLoop()
	return r
}

// Origin is this instance's id in the notices it publishes.
func (r *Redis) Origin() string { return r.origin }

// Ready is closed once the subscription is confirmed by Redis.
func (r *Redis) Ready() <-chan struct{} { return r.ready }

// Publish delivers n to this process's subscribers and queues it for the
// other instances. It never blocks.
func (r *Redis) Publish(_ context.Context, n Notice) error {
	n.Origin = r.origin
	r.subs.deliver(n)
	select {
	case r.queue <- n:
		return nil
	default:
		err := fmt.Errorf("fanout: queue full, notice dropped")
		r.fail(err)
		return err
	}
}

// Subscribe calls fn with every notice, this instance's and others'.
func (r *Redis) Subscribe(fn func(Notice)) func() { return r.subs.add(fn) }

// Close stops relaying; queued notices are published first (within a
// second each).
func (r *Redis) Close() error {
	r.once.Do(func() {
		close(r.stop)
		r.ps.Close()
		r.wg.Wait()
	})
	return nil
}

func (r *Redis) fail(err error) {
	r.log.Warn("revocation fan-out", "err", err)
	if r.onError != nil {
		r.onError(err)
	}
}

func (r *Redis) publishLoop() {
	defer r.wg.Done()
	send := func(n Notice) {
		b, err := json.Marshal(n)
		if err != nil {
			r.fail(err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		defer cancel()
		if err := r.c.Publish(ctx, r.channel, b).Err(); err != nil {
			r.fail(fmt.Errorf("fanout: publish: %w", err))
		}
	}
	for {
		select {
		case n := <-r.queue:
			send(n)
		case <-r.stop:
			for {
				select {
				case n := <-r.queue:
					send(n)
				default:
					return
				}
			}
		}
	}
}

func (r *Redis) receiveLoop() {
	defer r.wg.Done()
	var readyOnce sync.Once
	backoff := 50 * time.Millisecond
	for {
		msg, err := r.ps.Receive(context.Background())
		if err != nil {
			select {
			case <-r.stop:
				return
			default:
			}
			r.fail(fmt.Errorf("fanout: receive: %w", err))
			// go-redis reconnects on the next Receive; do not spin.
			select {
			case <-r.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			readyOnce.Do(func() { close(r.ready) })
		case *redis.Message:
			var n Notice
			if err := json.Unmarshal([]byte(m.Payload), &n); err != nil {
				r.fail(fmt.Errorf("fanout: bad notice: %w", err))
				continue
			}
			if n.Origin == r.origin {
				continue // delivered locally when published
			}
			r.subs.deliver(n)
		}
	}
}
