// Package svctest gives tests the external services latch can run on: a
// fresh PostgreSQL schema per test and a Redis key prefix per test.
//
// A test that needs a service calls PostgresURL or Redis; when the service
// does not answer the test is skipped with a message, unless the
// environment sets LATCH_TEST_REQUIRE_SERVICES=1, in which case it fails.
// The services default to PostgreSQL at 127.0.0.1:5432 (user postgres,
// database test, trust authentication) and Redis at 127.0.0.1:6379;
// LATCH_TEST_POSTGRES_URL and LATCH_TEST_REDIS_URL name others.
package svctest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Default service addresses.
const (
	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// Required reports whether LATCH_TEST_REQUIRE_SERVICES=1 asks missing
// services to fail tests instead of skipping them.
func Required() bool { return os.Getenv("LATCH_TEST_REQUIRE_SERVICES") == "1" }

// unavailable skips t, or fails it when services are required.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (LATCH_TEST_REQUIRE_SERVICES=1) but unreachable: %v", what, err)
	}
	t.Skipf("skipping: %s is unreachable (%v); set LATCH_TEST_REQUIRE_SERVICES=1 to make this a failure", what, err)
}

// PostgresBaseURL is the server tests use (without a schema).
func PostgresBaseURL() string {
	if u := os.Getenv("LATCH_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// PostgresURL creates an empty schema for t and returns a URL whose
// search_path selects it; the schema is dropped when t ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return PostgresURLOn(t, PostgresBaseURL())
}

// PostgresURLOn is PostgresURL on the server at base.
func PostgresURLOn(t testing.TB, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unavailable(t, "PostgreSQL", err)
	}
	defer conn.Close(ctx)
	schema := "latch_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("svctest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("svctest: dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("svctest: dropping schema %s: %v", schema, err)
		}
	})
	return WithParam(base, "search_path", schema)
}

// WithParam returns the URL raw with the query parameter k set to v.
func WithParam(raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("svctest: bad URL: %v", err))
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisURL is the Redis server tests use.
func RedisURL() string {
	if u := os.Getenv("LATCH_TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultRedisURL
}

// Redis checks that Redis answers and returns its URL and a key prefix of
// t's own; keys under the prefix are deleted when t ends.
func Redis(t testing.TB) (url, prefix string) {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("svctest: LATCH_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		unavailable(t, "Redis", err)
	}
	prefix = "latchtest:" + strings.ToLower(rand.Text()[:12]) + ":"
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return RedisURL(), prefix
}
