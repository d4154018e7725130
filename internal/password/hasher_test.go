package password

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// waitDepth spins until h.QueueDepth() reaches n (no sleeping: the
// goroutines it waits for only need to be scheduled).
func waitDepth(t *testing.T, h *Hasher, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h.QueueDepth() != n {
		if time.Now().After(deadline) {
			t.Fatalf("QueueDepth() = %d, want %d", h.QueueDepth(), n)
		}
		runtime.Gosched()
	}
}

func TestConfigDefaults(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{"zero", Config{}, Config{Memory: 19456, Time: 2, Threads: 1, MaxConcurrent: procs, MaxQueue: max(4*procs, 8)}},
		{"below OWASP memory", Config{Memory: 1024, Time: 1}, Config{Memory: 19456, Time: 2, Threads: 1, MaxConcurrent: procs, MaxQueue: max(4*procs, 8)}},
		{"t=1 with 46 MiB", Config{Memory: 47104, Time: 1}, Config{Memory: 47104, Time: 1, Threads: 1, MaxConcurrent: procs, MaxQueue: max(4*procs, 8)}},
		{"explicit", Config{Memory: 65536, Time: 3, Threads: 4, MaxConcurrent: 3, MaxQueue: 5}, Config{Memory: 65536, Time: 3, Threads: 4, MaxConcurrent: 3, MaxQueue: 5}},
		{"queue from concurrency", Config{MaxConcurrent: 2}, Config{Memory: 19456, Time: 2, Threads: 1, MaxConcurrent: 2, MaxQueue: 8}},
		{"queue from many slots", Config{MaxConcurrent: 6}, Config{Memory: 19456, Time: 2, Threads: 1, MaxConcurrent: 6, MaxQueue: 24}},
		{"no queue", Config{MaxConcurrent: 1, MaxQueue: -1}, Config{Memory: 19456, Time: 2, Threads: 1, MaxConcurrent: 1, MaxQueue: 0}},
	}
	for _, tt := range tests {
		if got := NewHasher(tt.in).Config(); got != tt.want {
			t.Errorf("%s: NewHasher(%+v).Config() = %+v, want %+v", tt.name, tt.in, got, tt.want)
		}
	}
}

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)

func TestHashVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(Config{})
	enc, err := h.Hash(ctx, "zebra-lantern-41-quiet")
	if err != nil {
		t.Fatal(err)
	}
	m := phcRE.FindStringSubmatch(enc)
	if m == nil {
		t.Fatalf("Hash = %q, want PHC argon2id string matching %s", enc, phcRE)
	}
	salt, _ := base64.RawStdEncoding.DecodeString(m[1])
	key, _ := base64.RawStdEncoding.DecodeString(m[2])
	if len(salt) != 16 || len(key) != 32 {
		t.Errorf("salt %d bytes, key %d bytes; want 16 and 32", len(salt), len(key))
	}
	enc2, err := h.Hash(ctx, "zebra-lantern-41-quiet")
	if err != nil {
		t.Fatal(err)
	}
	if enc2 == enc {
		t.Errorf("two hashes of one password are equal (%q): salt not random", enc)
	}

	for _, tt := range []struct {
		pw     string
		wantOK bool
	}{
		{"zebra-lantern-41-quiet", true},
		{"zebra-lantern-41-quieT", false},
		{"zebra-lantern-41-quiet ", false},
		{"", false},
	} {
		ok, rehash, err := h.Verify(ctx, tt.pw, enc)
		if err != nil || ok != tt.wantOK || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, false, nil", tt.pw, ok, rehash, err, tt.wantOK)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	base := Config{}
	tests := []struct {
		name     string
		hashWith Config
		verifier Config
		want     bool
	}{
		{"same parameters", base, base, false},
		{"verifier wants more memory", base, Config{Memory: 2 * 19456}, true},
		{"verifier wants more passes", base, Config{Time: 3}, true},
		{"other parallelism is not weaker", base, Config{Threads: 2}, false},
		{"stored hash stronger", Config{Memory: 2 * 19456, Time: 3}, base, false},
	}
	for _, tt := range tests {
		enc, err := NewHasher(tt.hashWith).Hash(ctx, "zebra-lantern-41-quiet")
		if err != nil {
			t.Fatal(err)
		}
		ok, rehash, err := NewHasher(tt.verifier).Verify(ctx, "zebra-lantern-41-quiet", enc)
		if err != nil || !ok || rehash != tt.want {
			t.Errorf("%s: Verify(%q) = %v, %v, %v; want true, %v, nil", tt.name, enc, ok, rehash, err, tt.want)
		}
	}
}

// phc formats an argon2id hash made directly with x/crypto/argon2.
func phc(pw string, salt []byte, m, t uint32, p uint8, keyLen uint32) string {
	key := argon2.IDKey([]byte(pw), salt, t, m, p, keyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Hashes written by other libraries, as imports bring them.
func TestVerifyForeignHashes(t *testing.T) {
	const pw = "correct horse battery staple"
	tests := []struct {
		name       string
		pw         string
		enc        string
		wantOK     bool
		wantRehash bool
	}{
		// node-argon2 0.45.1 writes m, p, t in that order.
		{"node-argon2 argon2id OWASP", pw, "$argon2id$v=19$m=19456,p=1,t=2$WAoSA5/bM6q0azvobcRDiw$NWqZ9nHXN1SZ5JnRxFxXqyC//cafxN67i87ge3X+pac", true, false},
		{"node-argon2 argon2id OWASP wrong pw", pw + "!", "$argon2id$v=19$m=19456,p=1,t=2$WAoSA5/bM6q0azvobcRDiw$NWqZ9nHXN1SZ5JnRxFxXqyC//cafxN67i87ge3X+pac", false, false},
		{"node-argon2 argon2id strong", pw, "$argon2id$v=19$m=65536,p=4,t=3$+ErZL8KYaZlwN94Ehqh6eg$o9e3tdNKS6LqcYwVWjDEqkzXVb3FgDMeM7yilJmYnas", true, false},
		{"node-argon2 argon2i", pw, "$argon2i$v=19$m=8192,p=1,t=3$F5gREcO//yX7mpWoFpBBow$2s7swGd+y00iIjHUWelBiGPWuKbxFRC1ZdXBOPncr58", true, true},
		{"argon2id weak memory", pw, phc(pw, []byte("0123456789abcdef"), 8192, 2, 1, 32), true, true},
		{"argon2id short key", pw, phc(pw, []byte("0123456789abcdef"), 19456, 2, 1, 16), true, true},
		{"argon2id short salt", pw, phc(pw, []byte("01234567"), 19456, 2, 1, 32), true, true},
		// bcryptjs 2.4.3 (writes $2a$, like Devise's bcrypt-ruby) and 3.0.3 ($2b$).
		{"bcryptjs 2.4.3", pw, "$2a$05$MeyURE/HF/MW9EdIJj.98O98piA2jneYfTsjpaUfNDR9TxoBCgAhK", true, true},
		{"bcryptjs 2.4.3 wrong pw", "Correct horse battery staple", "$2a$05$MeyURE/HF/MW9EdIJj.98O98piA2jneYfTsjpaUfNDR9TxoBCgAhK", false, true},
		{"bcryptjs 3.0.3", pw, "$2b$05$lq4PXqHuEqS30d/N.Mw7HekjQ43sVyrAZftKnceBwm9C9UM2Vhqfi", true, true},
		{"bcryptjs 2.4.3 non-ASCII", "Grüße, café ☕", "$2a$04$ZSqbZWoesH/eBwna4ib8V.UN58Qrn4AwqZxzML.JcwFxfh5xTzchq", true, true},
		{"bcryptjs 3.0.3 non-ASCII decomposed input", "Gru\u0308ße, cafe\u0301 ☕", "$2b$04$1x0VSu7DXXQNfMinacrVRuJmBj2xy7gPhoT6S4Rm3ah7p40e3ZxrG", true, true},
		{"bcryptjs 72 bytes", strings.Repeat("x", 72), "$2a$04$SCJcZoiaqF4ryds6nMPgR.o55Ya3eJpJEXus7Z54oTn6iKM0QClW.", true, true},
		// bcrypt reads 72 bytes only; latch never truncates, so a longer
		// password does not match (where bcryptjs would say it does).
		{"bcryptjs 73 bytes", strings.Repeat("x", 73), "$2a$04$SCJcZoiaqF4ryds6nMPgR.o55Ya3eJpJEXus7Z54oTn6iKM0QClW.", false, true},
		{"bcryptjs 100 bytes", strings.Repeat("x", 100), "$2b$04$OEt7len4rS/M0eyT4jolDuyGieDkaPuKydfu4gxcI3r9nKNzikpPu", false, true},
	}
	h := NewHasher(Config{})
	for _, tt := range tests {
		ok, rehash, err := h.Verify(context.Background(), tt.pw, tt.enc)
		if err != nil || ok != tt.wantOK || rehash != tt.wantRehash {
			t.Errorf("%s: Verify = %v, %v, %v; want %v, %v, nil", tt.name, ok, rehash, err, tt.wantOK, tt.wantRehash)
		}
	}
}

func TestVerifyBcryptPrefixes(t *testing.T) {
	const pw = "zebra-lantern-41-quiet"
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHasher(Config{})
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		enc := prefix + string(b[4:])
		for _, tt := range []struct {
			pw   string
			want bool
		}{{pw, true}, {pw + "x", false}} {
			ok, rehash, err := h.Verify(context.Background(), tt.pw, enc)
			if err != nil || ok != tt.want || !rehash {
				t.Errorf("Verify(%q, %q) = %v, %v, %v; want %v, true, nil", tt.pw, enc, ok, rehash, err, tt.want)
			}
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	const salt, key = "MDEyMzQ1Njc4OWFiY2RlZg", "NWqZ9nHXN1SZ5JnRxFxXqyC//cafxN67i87ge3X+pac"
	argon := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	bc := "$2a$05$MeyURE/HF/MW9EdIJj.98O98piA2jneYfTsjpaUfNDR9TxoBCgAhK"
	tests := []struct {
		name string
		enc  string
		want error
	}{
		{"empty", "", ErrUnsupportedHash},
		{"plain text", "hunter2", ErrUnsupportedHash},
		{"unknown scheme", "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA", ErrUnsupportedHash},
		{"argon2d", "$argon2d$v=19$m=19456,t=2,p=1$" + salt + "$" + key, ErrUnsupportedHash},
		{"argon2 version 16", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, ErrUnsupportedHash},
		{"bcrypt 2x", "$2x$" + bc[4:], ErrUnsupportedHash},
		{"argon2 prefix only", "$argon2id$", ErrMalformedHash},
		{"argon2 no version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 missing key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt, ErrMalformedHash},
		{"argon2 trailing field", argon("m=19456,t=2,p=1") + "$", ErrMalformedHash},
		{"argon2 missing p", argon("m=19456,t=2"), ErrMalformedHash},
		{"argon2 extra param", argon("m=19456,t=2,p=1,x=3"), ErrMalformedHash},
		{"argon2 duplicate param", argon("m=19456,m=19456,t=2"), ErrMalformedHash},
		{"argon2 empty value", argon("m=,t=2,p=1"), ErrMalformedHash},
		{"argon2 leading zero", argon("m=019456,t=2,p=1"), ErrMalformedHash},
		{"argon2 sign", argon("m=+19456,t=2,p=1"), ErrMalformedHash},
		{"argon2 negative", argon("m=19456,t=-2,p=1"), ErrMalformedHash},
		{"argon2 overflow", argon("m=4294967296,t=2,p=1"), ErrMalformedHash},
		{"argon2 t=0", argon("m=19456,t=0,p=1"), ErrMalformedHash},
		{"argon2 p=0", argon("m=19456,t=2,p=0"), ErrMalformedHash},
		{"argon2 m below 8p", argon("m=15,t=2,p=2"), ErrMalformedHash},
		{"argon2 m above 1 GiB", argon("m=1048577,t=2,p=1"), ErrMalformedHash},
		{"argon2 t above 10", argon("m=19456,t=11,p=1"), ErrMalformedHash},
		{"argon2 p above 16", argon("m=19456,t=2,p=17"), ErrMalformedHash},
		{"argon2 huge m", argon("m=4294967295,t=2,p=1"), ErrMalformedHash},
		{"argon2 salt not base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key, ErrMalformedHash},
		{"argon2 padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key, ErrMalformedHash},
		{"argon2 salt too short", "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ$" + key, ErrMalformedHash},
		{"argon2 key too short", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$MDEyMzQ1Njc", ErrMalformedHash},
		{"argon2 empty key", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$", ErrMalformedHash},
		{"argon2 too long", argon("m=19456,t=2,p=1") + strings.Repeat("A", 600), ErrMalformedHash},
		{"bcrypt short", bc[:59], ErrMalformedHash},
		{"bcrypt long", bc + "A", ErrMalformedHash},
		{"bcrypt cost 03", "$2a$03" + bc[6:], ErrMalformedHash},
		{"bcrypt cost 32", "$2a$32" + bc[6:], ErrMalformedHash},
		{"bcrypt cost above limit", "$2a$16" + bc[6:], ErrMalformedHash},
		{"bcrypt cost not digits", "$2a$1a" + bc[6:], ErrMalformedHash},
		{"bcrypt no $ after cost", "$2a$05x" + bc[7:], ErrMalformedHash},
		{"bcrypt bad character", bc[:30] + "!" + bc[31:], ErrMalformedHash},
	}
	// Parsing comes before the queue: a malformed hash is reported even
	// when no slot is free, and costs no hashing.
	h := NewHasher(Config{MaxConcurrent: 1, MaxQueue: -1})
	mem, err := h.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer h.release(mem)
	for _, tt := range tests {
		ok, rehash, err := h.Verify(context.Background(), "pw", tt.enc)
		if !errors.Is(err, tt.want) || ok || rehash {
			t.Errorf("%s: Verify(%q) = %v, %v, %v; want false, false, %v", tt.name, tt.enc, ok, rehash, err, tt.want)
		}
	}
}

func TestNFC(t *testing.T) {
	const composed, decomposed = "caf\u00e9-zebra-lantern", "cafe\u0301-zebra-lantern"
	ctx := context.Background()
	h := NewHasher(Config{})
	for _, hashed := range []string{composed, decomposed} {
		enc, err := h.Hash(ctx, hashed)
		if err != nil {
			t.Fatal(err)
		}
		for _, pw := range []string{composed, decomposed} {
			if ok, _, err := h.Verify(ctx, pw, enc); err != nil || !ok {
				t.Errorf("hash of %+q, Verify(%+q) = %v, %v; want true, nil", hashed, pw, ok, err)
			}
		}
	}
}

func TestLongPasswordNotTruncated(t *testing.T) {
	ctx := context.Background()
	pw := strings.Repeat("ä€😀", 100) // 300 code points, 900 bytes
	if err := (Policy{}).Check(pw, "someone@example.com"); err != nil {
		t.Fatalf("Check(300 code points) = %v, want nil", err)
	}
	h := NewHasher(Config{})
	enc, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(ctx, pw, enc); err != nil || !ok {
		t.Errorf("Verify(same 300 code points) = %v, %v; want true, nil", ok, err)
	}
	changed := pw[:len(pw)-len("😀")] + "😁"
	if ok, _, err := h.Verify(ctx, changed, enc); err != nil || ok {
		t.Errorf("Verify(last code point changed) = %v, %v; want false, nil", ok, err)
	}
}

func TestQueueBusy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := NewHasher(Config{MaxConcurrent: 1, MaxQueue: 1})
	mem, err := h.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Saturated() {
		t.Errorf("Saturated() with the queue empty = true")
	}
	waiter := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "zebra-lantern-41-quiet")
		waiter <- err
	}()
	waitDepth(t, h, 2)

	// The slot is held and the one queue place taken: a further call
	// fails at once (it would otherwise block until ctx's deadline).
	if !h.Saturated() {
		t.Errorf("Saturated() with the slot and the queue taken = false")
	}
	if _, err := h.Hash(ctx, "zebra-lantern-41-quiet"); err != ErrBusy {
		t.Errorf("Hash with full queue = %v, want ErrBusy", err)
	}
	if _, _, err := h.Verify(ctx, "pw", h.DummyHash()); err != ErrBusy {
		t.Errorf("Verify with full queue = %v, want ErrBusy", err)
	}
	if got := h.QueueDepth(); got != 2 {
		t.Errorf("QueueDepth() = %d, want 2", got)
	}

	h.release(mem)
	if err := <-waiter; err != nil {
		t.Errorf("queued Hash = %v, want nil", err)
	}
	if got := h.QueueDepth(); got != 0 {
		t.Errorf("QueueDepth() after all done = %d, want 0", got)
	}
	if h.Saturated() {
		t.Errorf("Saturated() after all done = true")
	}
}

func TestQueueNone(t *testing.T) {
	h := NewHasher(Config{MaxConcurrent: 1, MaxQueue: -1})
	mem, err := h.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer h.release(mem)
	if _, err := h.Hash(context.Background(), "zebra-lantern-41-quiet"); err != ErrBusy {
		t.Errorf("Hash with no queue and the slot held = %v, want ErrBusy", err)
	}
}

func TestQueueCancel(t *testing.T) {
	h := NewHasher(Config{MaxConcurrent: 1, MaxQueue: 4})
	mem, err := h.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer h.release(mem)

	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, _, err := h.Verify(ctx, "pw", h.DummyHash())
		res <- err
	}()
	waitDepth(t, h, 2)
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("Verify cancelled while waiting = %v, want context.Canceled", err)
	}
	waitDepth(t, h, 1)

	// An already-ended context never queues.
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestVerifyDummy(t *testing.T) {
	h := NewHasher(Config{MaxConcurrent: 1})
	d, err := h.parse(h.DummyHash())
	if err != nil {
		t.Fatalf("parse(DummyHash()) = %v", err)
	}
	if d.scheme != schemeArgon2id || d.memory != 19456 || d.time != 2 || d.threads != 1 || len(d.salt) != 16 || len(d.key) != 32 {
		t.Errorf("DummyHash() = %q, want argon2id with the current parameters", h.DummyHash())
	}
	if ok, rehash, err := h.Verify(context.Background(), "", h.DummyHash()); ok || rehash || err != nil {
		t.Errorf("Verify(DummyHash()) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}

	// VerifyDummy waits for a slot like Verify.
	mem, err := h.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		h.VerifyDummy(context.Background(), "zebra-lantern-41-quiet")
		close(done)
	}()
	waitDepth(t, h, 2)
	select {
	case <-done:
		t.Fatal("VerifyDummy returned while the only slot was held")
	default:
	}
	h.release(mem)
	<-done
	if got := h.QueueDepth(); got != 0 {
		t.Errorf("QueueDepth() = %d, want 0", got)
	}
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(Config{})
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "zebra-lantern-41-quiet"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(Config{})
	ctx := context.Background()
	enc, err := h.Hash(ctx, "zebra-lantern-41-quiet")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "zebra-lantern-41-quiet", enc); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// Systems that imported bcrypt hashes did not normalise: a hash of the
// decomposed bytes still verifies with those bytes as typed.
func TestVerifyBcryptUnnormalised(t *testing.T) {
	const decomposed = "cafe\u0301-zebra-lantern"
	b, err := bcrypt.GenerateFromPassword([]byte(decomposed), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHasher(Config{})
	for _, tt := range []struct {
		pw   string
		want bool
	}{{decomposed, true}, {"caf\u00e9-zebra-lantern", false}} {
		ok, rehash, err := h.Verify(context.Background(), tt.pw, string(b))
		if err != nil || ok != tt.want || !rehash {
			t.Errorf("Verify(%+q) = %v, %v, %v; want %v, true, nil", tt.pw, ok, rehash, err, tt.want)
		}
	}
}
