package password

import (
	"errors"
	"strings"
	"testing"
)

func TestRecognized(t *testing.T) {
	h := NewHasher(Config{})
	tests := []struct {
		name, enc string
		want      error // nil, ErrMalformedHash or ErrUnsupportedHash
	}{
		{"devise bcrypt", "$2a$04$UskdxHH.AmDOnTKxdoYUlenLTRWlJ3SWMC040V.hjZaVpZ5TDF8Ri", nil},
		{"bcryptjs 3", "$2b$05$lq4PXqHuEqS30d/N.Mw7HekjQ43sVyrAZftKnceBwm9C9UM2Vhqfi", nil},
		{"php", "$2y$05$lq4PXqHuEqS30d/N.Mw7HekjQ43sVyrAZftKnceBwm9C9UM2Vhqfi", nil},
		{"argon2id", "$argon2id$v=19$m=19456,p=1,t=2$WAoSA5/bM6q0azvobcRDiw$NWqZ9nHXN1SZ5JnRxFxXqyC//cafxN67i87ge3X+pac", nil},
		{"argon2i", "$argon2i$v=19$m=8192,p=1,t=3$F5gREcO//yX7mpWoFpBBow$2s7swGd+y00iIjHUWelBiGPWuKbxFRC1ZdXBOPncr58", nil},
		{"bcrypt cost above limit", "$2a$16$UskdxHH.AmDOnTKxdoYUlenLTRWlJ3SWMC040V.hjZaVpZ5TDF8Ri", ErrMalformedHash},
		{"bcrypt truncated", "$2a$04$UskdxHH.AmDOnTKxdoYUlenLTRWlJ3SWMC040V.hjZaVpZ5TDF8R", ErrMalformedHash},
		{"argon2 huge memory", "$argon2id$v=19$m=4194304,p=1,t=2$WAoSA5/bM6q0azvobcRDiw$NWqZ9nHXN1SZ5JnRxFxXqyC//cafxN67i87ge3X+pac", ErrMalformedHash},
		{"pbkdf2", "$pbkdf2-sha256$29000$c2FsdA$aGFzaA", ErrUnsupportedHash},
		{"django", "pbkdf2_sha256$260000$salt$hash", ErrUnsupportedHash},
		{"plaintext", "hunter2", ErrUnsupportedHash},
		{"empty", "", ErrUnsupportedHash},
	}
	for _, tt := range tests {
		err := h.Recognized(tt.enc)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: Recognized = %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && len(tt.enc) > 16 && strings.Contains(err.Error(), tt.enc) {
			t.Errorf("%s: the error repeats the hash: %v", tt.name, err)
		}
	}
}
