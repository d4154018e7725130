// Command notes-api runs the notesapi example service against a latch
// server.
//
//	NOTES_ADDR            listen address (default 127.0.0.1:8090)
//	NOTES_LATCH_URL       where latch is reached (default http://localhost:8080)
//	NOTES_ISSUER          the tokens' iss: latch's LATCH_PUBLIC_URL (default NOTES_LATCH_URL)
//	NOTES_AUDIENCE        the tokens' aud: latch's LATCH_AUDIENCE (default NOTES_ISSUER)
//	NOTES_REVOCATION_KEY  latch's LATCH_REVOCATION_KEY, if set there
//	NOTES_REVOCATIONS     "off" to verify without the revocation feed
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/latchauth/latch/examples/notesapi"
	"github.com/latchauth/latch/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "notes-api:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. It logs "listening" with the address once
// the keys (and the revocation feed's first answer) are in.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	str := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	latchURL := strings.TrimRight(str("NOTES_LATCH_URL", "http://localhost:8080"), "/")
	issuer := str("NOTES_ISSUER", latchURL)
	cfg := verify.Config{
		Issuer:         issuer,
		Audience:       str("NOTES_AUDIENCE", issuer),
		JWKSURL:        latchURL + "/.well-known/jwks.json",
		RevocationsURL: latchURL + "/v1/revocations",
		RevocationsKey: getenv("NOTES_REVOCATION_KEY"),
		Logger:         log,
	}
	if getenv("NOTES_REVOCATIONS") == "off" {
		cfg.RevocationsURL = ""
	}
	v, err := verify.New(cfg)
	if err != nil {
		return err
	}
	defer v.Close()
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = v.Ready(readyCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("latch at %s: %w", latchURL, err)
	}

	ln, err := net.Listen("tcp", str("NOTES_ADDR", "127.0.0.1:8090"))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: notesapi.NewHandler(v), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
