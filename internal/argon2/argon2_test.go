package argon2

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// x/crypto's vectors (argon2_test.go there) for inputs without a secret or
// associated data.
var idVectors = []struct {
	time, memory uint32
	threads      uint8
	want         string
}{
	{1, 64, 1, "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
	{2, 64, 1, "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7"},
	{2, 64, 2, "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362"},
	{3, 256, 2, "4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b"},
	{4, 4096, 4, "145db9733a9f4ee43edf33c509be96b934d505a4efb33c5a"},
	{4, 1024, 8, "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f"},
}

func TestIDKeyVectors(t *testing.T) {
	var mem Memory
	dirty(&mem, 8192)
	for _, v := range idVectors {
		for _, m := range []*Memory{nil, &mem} {
			got := hex.EncodeToString(IDKey(m, []byte("password"), []byte("somesalt"), v.time, v.memory, v.threads, 24))
			if got != v.want {
				t.Errorf("IDKey(t=%d, m=%d, p=%d, own memory %v) = %s, want %s", v.time, v.memory, v.threads, m != nil, got, v.want)
			}
		}
	}
}

// TestRFC9106 is the argon2id test vector of RFC 9106 section 5.3, in fresh
// and in dirty memory, with the SSE4 block function and without.
func TestRFC9106(t *testing.T) {
	defer func(sse4 bool) { useSSE4 = sse4 }(useSSE4)
	rep := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	const want = "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
	var mem Memory
	for _, sse4 := range []bool{useSSE4, false} {
		useSSE4 = sse4
		for _, m := range []*Memory{nil, &mem} {
			dirty(&mem, 64)
			if got := hex.EncodeToString(deriveKey(m, argon2id, rep(1, 32), rep(2, 16), rep(3, 8), rep(4, 12), 3, 32, 4, 32)); got != want {
				t.Errorf("sse4 %v, own memory %v: %s, want %s", sse4, m != nil, got, want)
			}
		}
	}
}

// TestSameAsXCrypto compares with x/crypto for random inputs and
// parameters, in one Memory reused from hash to hash and filled with
// garbage in between: what a reused buffer held must not matter.
func TestSameAsXCrypto(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var mem Memory
	for i := range 60 {
		pw, salt := randBytes(r, r.IntN(80)), randBytes(r, 8+r.IntN(24))
		time, memory, threads := uint32(1+r.IntN(3)), uint32(8+r.IntN(2048)), uint8(1+r.IntN(4))
		keyLen := uint32(4 + r.IntN(100))
		if i%3 == 0 {
			dirty(&mem, int(memory))
		}
		if got, want := IDKey(&mem, pw, salt, time, memory, threads, keyLen), xargon2.IDKey(pw, salt, time, memory, threads, keyLen); !bytes.Equal(got, want) {
			t.Fatalf("IDKey(t=%d, m=%d, p=%d, len=%d) differs from x/crypto", time, memory, threads, keyLen)
		}
		if got, want := Key(&mem, pw, salt, time, memory, threads, keyLen), xargon2.Key(pw, salt, time, memory, threads, keyLen); !bytes.Equal(got, want) {
			t.Fatalf("Key(t=%d, m=%d, p=%d, len=%d) differs from x/crypto", time, memory, threads, keyLen)
		}
	}
}

func TestMemoryGrowsAndIsReused(t *testing.T) {
	var mem Memory
	IDKey(&mem, []byte("pw"), []byte("saltsalt"), 1, 64, 1, 32)
	if mem.Size() != 64<<10 {
		t.Fatalf("Size after m=64 is %d", mem.Size())
	}
	first := &mem.blocks[0]
	IDKey(&mem, []byte("pw"), []byte("saltsalt"), 1, 32, 1, 32)
	if mem.Size() != 64<<10 || &mem.blocks[0] != first {
		t.Fatal("a smaller hash did not reuse the memory")
	}
	IDKey(&mem, []byte("pw"), []byte("saltsalt"), 1, 128, 1, 32)
	if mem.Size() != 128<<10 {
		t.Fatalf("Size after m=128 is %d", mem.Size())
	}
	if a := testing.AllocsPerRun(5, func() { IDKey(&mem, []byte("pw"), []byte("saltsalt"), 1, 128, 1, 32) }); a > 20 {
		t.Errorf("a hash in reused memory made %v allocations", a)
	}
}

func FuzzSameAsXCrypto(f *testing.F) {
	f.Add([]byte("password"), []byte("somesalt"), uint8(2), uint16(64), uint8(1), uint8(32))
	var mem Memory
	f.Fuzz(func(t *testing.T, pw, salt []byte, time uint8, memory uint16, threads uint8, keyLen uint8) {
		tm, m, p, k := uint32(time%3)+1, uint32(memory%1024)+8, threads%4+1, uint32(keyLen)+4
		if got, want := IDKey(&mem, pw, salt, tm, m, p, k), xargon2.IDKey(pw, salt, tm, m, p, k); !bytes.Equal(got, want) {
			t.Fatalf("IDKey(t=%d, m=%d, p=%d, len=%d) differs from x/crypto", tm, m, p, k)
		}
	})
}

func BenchmarkIDKey(b *testing.B) {
	pw, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			IDKey(nil, pw, salt, 2, 19*1024, 1, 32)
		}
	})
	b.Run("reused", func(b *testing.B) {
		var mem Memory
		for b.Loop() {
			IDKey(&mem, pw, salt, 2, 19*1024, 1, 32)
		}
	})
}

func dirty(m *Memory, n int) {
	m.get(uint32(n))
	for i := range m.blocks {
		for j := range m.blocks[i] {
			m.blocks[i][j] = uint64(i)*0x9e3779b97f4a7c15 ^ uint64(j)
		}
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// The generic block function (the one of architectures without assembly,
// and of purego builds) computes what the assembly does.
func TestGenericBlockFunction(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var in1, in2, want, got block
	for range 100 {
		for i := range in1 {
			in1[i], in2[i] = r.Uint64(), r.Uint64()
			want[i] = r.Uint64()
		}
		got = want
		processBlockXOR(&want, &in1, &in2)
		processBlockGeneric(&got, &in1, &in2, true)
		if got != want {
			t.Fatal("processBlockGeneric (xor) differs from processBlockXOR")
		}
		processBlock(&want, &in1, &in2)
		processBlockGeneric(&got, &in1, &in2, false)
		if got != want {
			t.Fatal("processBlockGeneric differs from processBlock")
		}
	}
}
