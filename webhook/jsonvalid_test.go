package webhook

import (
	"encoding/json"
	"strings"
	"testing"
)

var jsonValidCases = []string{
	``, ` `, `null`, `true`, `false`, `nul`, `nulll`, `tru`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e`, `1e+`, `1E-7`,
	`-1.25e10`, `.5`, `+1`, `""`, `"a`, `"\u00e9"`, `"\u00g9"`, `"\x"`, `"\/\b\f\n\r\t\"\\"`, "\"\x01\"", "\"\x7f\xff\"",
	`{}`, `{ }`, `{"a":1}`, `{"a":1,}`, `{"a" : [1, 2 ,{"b":null}] }`, `{a:1}`, `{"a"}`, `{"a":}`, `[]`, `[1,]`, `[,1]`,
	`[1 2]`, " \t\r\n[1]\n ", `[1]]`, `{"a":1}}`, `1 2`, `"\ud800"`, `[` + strings.Repeat(`[`, 9998) + strings.Repeat(`]`, 9999),
	strings.Repeat(`[`, 10000) + strings.Repeat(`]`, 10000), strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001),
	strings.Repeat(`{"a":`, 10001) + `1` + strings.Repeat(`}`, 10001),
}

// wordCases puts each byte that ends a string's plain run, and some that
// do not, at every place of the 8-byte words skipPlain8 reads, in strings
// of several lengths.
func wordCases() []string {
	var out []string
	for _, n := range []int{7, 8, 9, 16, 23} {
		for at := range n {
			for _, c := range []byte{'"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff} {
				b := []byte(strings.Repeat("x", n))
				b[at] = c
				out = append(out, `"`+string(b)+`"`, `["`+string(b)+`",1]`)
			}
		}
	}
	return out
}

func TestValidJSON(t *testing.T) {
	for _, c := range append(jsonValidCases, wordCases()...) {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.40q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

// FuzzValidJSON holds validJSON to json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, c := range jsonValidCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	body := []byte(`{"data":"` + strings.Repeat("x", 1024-11) + `","n":[1,2.5,-3e4,true,null,{"k":"\u00e9"}]}`)
	b.Run("encoding/json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			json.Valid(body)
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			validJSON(body)
		}
	})
}
