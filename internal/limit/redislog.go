package limit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// RedisLogger adapts log to go-redis's logger (redis.SetLogger), so that
// the client's own messages (failed dials, dropped pub/sub connections)
// come out as log lines like every other, not as plain text on stderr.
func RedisLogger(log *slog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return redisLogger{log}
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", strings.TrimSpace(fmt.Sprintf(format, v...)))
}
