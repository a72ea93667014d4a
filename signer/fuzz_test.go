package signer

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Each FuzzVerify target feeds a verifier arbitrary header values and bodies,
// seeded with the vectors of its scheme. A verifier must never panic, must
// refuse with one of its documented errors, and must accept only when the
// signature it would compute itself is there.

func fuzzVectors(f *testing.F, scheme string) []testVector {
	var out []testVector
	for _, v := range loadVectors(f) {
		if v.Scheme == scheme {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		f.Fatalf("no vectors for %s", scheme)
	}
	return out
}

func checkVerifyError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, ErrMissingSignature) && !errors.Is(err, ErrInvalidSignature) && !errors.Is(err, ErrTimestampOutOfRange) {
		t.Fatalf("undocumented verify error: %v", err)
	}
}

func FuzzVerifyTYPO3(f *testing.F) {
	vs := fuzzVectors(f, "typo3")
	for _, v := range vs {
		f.Add(v.Headers["Webhook-Signature"], v.Headers["Webhook-Signature-Algo"], v.Body)
	}
	f.Add("", "", "")
	f.Add("zz", "SHA256", "{}")
	v := vs[0]
	vf, err := NewVerifier(Config{}, []string{v.Secret}, WithWebhookID(v.ID))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig, algo, body string) {
		h := http.Header{}
		h.Set(HeaderTYPO3Signature, sig)
		h.Set(HeaderTYPO3Algo, algo)
		err := vf.Verify(h, []byte(body))
		checkVerifyError(t, err)
		if err == nil && body != v.Body {
			resign(t, Config{}, v.Secret, Input{WebhookID: v.ID, Body: []byte(body)}, h)
		}
	})
}

func FuzzVerifyHMAC(f *testing.F) {
	for _, scheme := range []string{"hmac-hex-body", "hmac-base64-body"} {
		for _, v := range fuzzVectors(f, scheme) {
			f.Add(scheme == "hmac-base64-body", v.Algo == "sha512", v.Prefix, v.Headers[v.Header], v.Body)
		}
	}
	f.Add(false, false, "", "", "")
	type key struct{ b64, sha512 bool }
	verifiers := map[key]Verifier{}
	for _, b64 := range []bool{false, true} {
		for _, s512 := range []bool{false, true} {
			vf, err := NewVerifier(hmacFuzzConfig(b64, s512), []string{testSecret})
			if err != nil {
				f.Fatal(err)
			}
			verifiers[key{b64, s512}] = vf
		}
	}
	f.Fuzz(func(t *testing.T, b64, sha512 bool, prefix, sig, body string) {
		// The verifiers have no prefix; a fuzzed prefix lands in the value.
		h := http.Header{}
		h.Set("X-Signature", prefix+sig)
		err := verifiers[key{b64, sha512}].Verify(h, []byte(body))
		checkVerifyError(t, err)
		if err == nil {
			resign(t, hmacFuzzConfig(b64, sha512), testSecret, Input{Body: []byte(body)}, h)
		}
	})
}

func hmacFuzzConfig(b64, sha512 bool) Config {
	c := Config{Scheme: SchemeHMAC, Header: "X-Signature", Encoding: EncodingHex, Algorithm: "sha256"}
	if b64 {
		c.Encoding = EncodingBase64
	}
	if sha512 {
		c.Algorithm = "sha512"
	}
	return c
}

func FuzzVerifyStandardWebhooks(f *testing.F) {
	vs := fuzzVectors(f, "standard-webhooks")
	for _, v := range vs {
		for _, svix := range []bool{false, true} {
			f.Add(svix, v.Headers["webhook-id"], v.Headers["webhook-timestamp"], v.Headers["webhook-signature"], v.Body)
		}
	}
	f.Add(false, "", "", "", "")
	f.Add(true, "msg", "99999999999999999999999", "v1,=== v1, v2,abc", "x")
	v := vs[len(vs)-1] // the published example
	at := time.Unix(v.Timestamp, 0)
	vf, err := NewVerifier(Config{Scheme: SchemeStandardWebhooks}, []string{v.Secret}, WithClock(func() time.Time { return at }))
	if err != nil {
		f.Fatal(err)
	}
	key, err := whsecKey(v.Secret)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, svix bool, id, ts, sig, body string) {
		set := headerSets[0]
		if svix {
			set = headerSets[1]
		}
		h := http.Header{}
		h.Set(set.id, id)
		h.Set(set.timestamp, ts)
		h.Set(set.signature, sig)
		err := vf.Verify(h, []byte(body))
		checkVerifyError(t, err)
		if err != nil {
			return
		}
		if ts != v.Headers["webhook-timestamp"] {
			t.Fatalf("accepted timestamp %q for a request signed at %d", ts, v.Timestamp)
		}
		// The exact signature must be there, as one space-separated entry.
		want := "v1," + base64.StdEncoding.EncodeToString(standardWebhooksMAC(key, id, ts, []byte(body)))
		if !slices.Contains(strings.Split(sig, " "), want) {
			t.Fatalf("accepted %s %q, but the signature is %q", set.signature, sig, want)
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	vs := fuzzVectors(f, "static-token")
	for _, v := range vs {
		f.Add(v.Headers["Verification-Signature"])
	}
	f.Add("")
	secret := vs[0].Secret
	vf, err := NewVerifier(Config{Scheme: SchemeToken}, []string{secret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		h := http.Header{}
		h.Set(DefaultTokenHeader, token)
		err := vf.Verify(h, nil)
		checkVerifyError(t, err)
		if (err == nil) != (token == secret) {
			t.Fatalf("token %q: err %v", token, err)
		}
	})
}

// FuzzParseSignatures fuzzes the webhook-signature header parser alone.
func FuzzParseSignatures(f *testing.F) {
	for _, v := range fuzzVectors(f, "standard-webhooks") {
		f.Add(v.Headers["webhook-signature"])
		f.Add(v.Headers["webhook-signature"] + " " + v.Headers["webhook-signature"])
	}
	f.Add("")
	f.Add("v1, v1,, ,v1 v1a,AAAA v2,AAAA")
	f.Fuzz(func(t *testing.T, header string) {
		sigs := parseSignatures(header)
		if len(sigs) > maxSignatures {
			t.Fatalf("%d signatures, limit %d", len(sigs), maxSignatures)
		}
		for _, s := range sigs {
			if len(s) != 32 {
				t.Fatalf("signature of %d bytes", len(s))
			}
		}
	})
}

// FuzzReceiver sends arbitrary signature headers through a Receiver with a
// handler of every scheme.
func FuzzReceiver(f *testing.F) {
	for _, v := range loadVectors(f) {
		for k, val := range v.Headers {
			f.Add(k, val, v.Body)
		}
	}
	rc, err := NewReceiver(fuzzHandlers(f), WithClock(func() time.Time { return time.Unix(1700000000, 0) }), WithMaxBodyBytes(1<<10))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key, value, body string) {
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", stringsReader(body))
		if err != nil {
			t.Skip()
		}
		r.Header[http.CanonicalHeaderKey(key)] = []string{value}
		_, _, err = rc.Verify(r)
		if err != nil && !errors.Is(err, ErrBodyTooLarge) {
			checkVerifyError(t, err)
		}
	})
}

func fuzzHandlers(f *testing.F) []Handler {
	var hs []Handler
	for i, v := range loadVectors(f) {
		hs = append(hs, Handler{Name: v.name(i), Config: v.config(f), Secrets: []string{v.Secret}, WebhookID: v.input().WebhookID})
	}
	return hs
}

// resign checks an accepted request by signing its body again: the
// verifier must have accepted a genuine signature.
func resign(t *testing.T, cfg Config, secret string, in Input, got http.Header) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{}
	if err := s.Sign(want, []string{secret}, in); err != nil {
		t.Fatal(err)
	}
	vf, err := NewVerifier(cfg, []string{secret}, WithWebhookID(in.WebhookID))
	if err != nil {
		t.Fatal(err)
	}
	if err := vf.Verify(want, in.Body); err != nil {
		t.Fatalf("re-signed request does not verify: %v", err)
	}
	for _, k := range s.Headers() {
		if k == HeaderTYPO3Algo {
			continue
		}
		if !equalFoldHex(got.Get(k), want.Get(k)) {
			t.Fatalf("accepted %s %q, but the signature is %q", k, got.Get(k), want.Get(k))
		}
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// equalFoldHex compares signatures, treating hex case as insignificant.
func equalFoldHex(a, b string) bool {
	if a == b {
		return true
	}
	_, errA := hex.DecodeString(a)
	_, errB := hex.DecodeString(b)
	return errA == nil && errB == nil && strings.EqualFold(a, b)
}
