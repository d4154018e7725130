package jws

import (
	"bytes"
	"time"
)

// maxNumericDate is the latest NumericDate accepted: the last second of
// year 9999 (253402300799). Later values have no RFC 3339 form, and near
// the int64 limit time.Unix wraps around into the distant past, which made
// a far-future nbf or iat pass as a past one. No claim, even with any
// Leeway added, then comes near the limits of time.Time.
const maxNumericDate = 253402300799

// numericDate parses a NumericDate (RFC 7519 §2): a JSON number of
// seconds since 1970-01-01T00:00:00Z, which may have a fraction. It is
// refused when negative, when written with an exponent (no JWT library
// writes a date as 1.7e9), and when later than maxNumericDate; a fraction
// finer than a nanosecond is truncated.
func numericDate(raw []byte) (time.Time, bool) {
	intPart, frac, hasFrac := bytes.Cut(raw, []byte{'.'})
	// Twelve digits hold maxNumericDate, so sec cannot overflow.
	if len(intPart) == 0 || len(intPart) > 12 || len(intPart) > 1 && intPart[0] == '0' || !allDigits(intPart) {
		return time.Time{}, false
	}
	if hasFrac && (len(frac) == 0 || !allDigits(frac)) {
		return time.Time{}, false
	}
	var sec int64
	for i := 0; i < len(intPart); i++ {
		sec = sec*10 + int64(intPart[i]-'0')
	}
	if sec > maxNumericDate {
		return time.Time{}, false
	}
	var nsec int64
	for i := 0; i < 9; i++ {
		nsec *= 10
		if i < len(frac) {
			nsec += int64(frac[i] - '0')
		}
	}
	return time.Unix(sec, nsec).UTC(), true
}

func allDigits(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
