package limit_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/limit"
)

func TestRedisLogger(t *testing.T) {
	var buf strings.Builder
	l := limit.RedisLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v\n", 1, "connection refused")
	var m map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &m); err != nil {
		t.Fatalf("line %q: %v", buf.String(), err)
	}
	if m["level"] != "WARN" || m["msg"] != "redis client" ||
		m["detail"] != "redis: connection pool: failed to dial after 1 attempts: connection refused" {
		t.Errorf("logged %v", m)
	}
}
