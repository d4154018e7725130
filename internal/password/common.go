package password

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"io"
	"sort"
	"strings"
	"sync"
)

// commonGz is the list of common passwords: NFC-normalised, lower-cased,
// sorted, one a line (see COMMON-PASSWORDS.md and gen_common.go).
//
//go:embed common-passwords.txt.gz
var commonGz []byte

// commonList is the decompressed list: all entries in one string, each
// followed by '\n', and the offset at which each starts. About 5 MB for
// 400,000 entries, against 30 MB or more for a map.
type commonList struct {
	data  string
	start []uint32
}

func (l *commonList) len() int { return len(l.start) }

func (l *commonList) at(i int) string {
	s := l.data[l.start[i]:]
	return s[:strings.IndexByte(s, '\n')]
}

func (l *commonList) contains(s string) bool {
	i := sort.Search(l.len(), func(i int) bool { return l.at(i) >= s })
	return i < l.len() && l.at(i) == s
}

var loadCommon = sync.OnceValue(func() *commonList {
	zr, err := gzip.NewReader(bytes.NewReader(commonGz))
	if err != nil {
		panic("password: embedded common password list: " + err.Error())
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		panic("password: embedded common password list: " + err.Error())
	}
	data := string(b)
	l := &commonList{data: data, start: make([]uint32, 0, strings.Count(data, "\n"))}
	for off := 0; off < len(data); {
		i := strings.IndexByte(data[off:], '\n')
		if i < 0 {
			break
		}
		l.start = append(l.start, uint32(off))
		off += i + 1
	}
	return l
})

// IsCommon reports whether pw, NFC-normalised and lower-cased, is on the
// shipped list of over 400,000 common passwords. The list is loaded on
// first use.
func IsCommon(pw string) bool {
	return isCommonLower(strings.ToLower(Normalize(pw)))
}

func isCommonLower(lower string) bool {
	if strings.IndexByte(lower, '\n') >= 0 {
		return false
	}
	return loadCommon().contains(lower)
}
