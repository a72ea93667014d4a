// Command receive is a local webhook receiver, a stand-in for webhook.site
// that checks signatures: it verifies each request with signer's Receiver
// middleware and prints the delivery, or why it was refused.
//
//	go run ./examples/receive -scheme typo3 -id UUID -secret S
//	go run ./examples/receive -handlers handlers.json
//	go run ./examples/receive -scheme standard-webhooks -generate-secret
//
// One handler comes from the flags (-scheme, -secret, -id, -header, -algo,
// -encoding, -prefix); -handlers reads a JSON list of signer.Handler instead,
// tried in order, the first that verifies winning (-allow-unsigned lets a
// "none" handler stand last among signed ones). Without -secret a new one is
// generated and printed; -generate-secret prints one for -scheme and exits.
// -replay-guard refuses a request whose delivery ID was accepted before.
// It listens on 127.0.0.1:8080 unless -addr says otherwise, with timeouts on
// every phase of a request (-body-timeout for the body).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/outhook/outhook/signer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "receive:", err)
		}
		os.Exit(1)
	}
}

// listFlag is a flag that may be repeated.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("receive", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		addr      = fs.String("addr", "127.0.0.1:8080", "address to listen on")
		handlers  = fs.String("handlers", "", "JSON file with a list of signer.Handler, instead of the flags below")
		name      = fs.String("name", "", "handler name (default: the scheme)")
		scheme    = fs.String("scheme", signer.SchemeTYPO3, "signing scheme: typo3, hmac, standard-webhooks, token or none")
		id        = fs.String("id", "", "UUID of the sender's webhook record (typo3 signs it)")
		header    = fs.String("header", "", "signature header of hmac and token")
		algo      = fs.String("algo", "", "HMAC hash of typo3 and hmac: sha256, sha512 or sha1")
		encoding  = fs.String("encoding", "", "encoding of hmac: hex or base64")
		prefix    = fs.String("prefix", "", "text before the signature (hmac) or the token (token)")
		tolerance = fs.Duration("tolerance", signer.DefaultTolerance, "how far a standard-webhooks timestamp may be from now")
		maxBody   = fs.Int64("max-body", signer.DefaultMaxBodyBytes, "largest body accepted, in bytes")
		bodyTime  = fs.Duration("body-timeout", signer.DefaultBodyReadTimeout, "time allowed for a request body to arrive")
		unsigned  = fs.Bool("allow-unsigned", false, `let a "none" handler stand last beside signed handlers (-handlers)`)
		replay    = fs.Bool("replay-guard", false, "refuse a request whose delivery ID was accepted within -tolerance")
		genSecret = fs.Bool("generate-secret", false, "print a new secret in the format of -scheme and exit")
		secrets   listFlag
	)
	fs.Var(&secrets, "secret", "shared secret; repeat it to accept a previous secret too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errors.New("no arguments are taken")
	}
	if *genSecret {
		secret, err := signer.GenerateSecret(*scheme)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret)
		return nil
	}

	var hs []signer.Handler
	if *handlers != "" {
		b, err := os.ReadFile(*handlers)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &hs); err != nil {
			return fmt.Errorf("%s: %w", *handlers, err)
		}
	} else {
		h := signer.Handler{Name: *name, WebhookID: *id, Secrets: secrets,
			Config: signer.Config{Scheme: *scheme, Algorithm: *algo, Header: *header, Encoding: *encoding, Prefix: *prefix}}
		if len(h.Secrets) == 0 && *scheme != signer.SchemeNone {
			secret, err := signer.GenerateSecret(*scheme)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "# no -secret given, accepting the new secret %s\n", secret)
			h.Secrets = []string{secret}
		}
		hs = append(hs, h)
	}

	out := &lockedWriter{w: stdout}
	opts := []signer.ReceiverOption{
		signer.WithTolerance(*tolerance),
		signer.WithMaxBodyBytes(*maxBody),
		signer.WithBodyReadTimeout(*bodyTime),
		signer.WithOnReject(func(r *http.Request, err error) {
			out.printf("%s refused %s %s from %s: %s\n", stamp(), r.Method, r.URL.RequestURI(), r.RemoteAddr,
				strings.ReplaceAll(err.Error(), "\n", "; "))
		}),
	}
	if *unsigned {
		opts = append(opts, signer.WithAllowUnsigned())
	}
	if *replay {
		guard, err := signer.NewMemoryReplayGuard(100_000)
		if err != nil {
			return err
		}
		opts = append(opts, signer.WithReplayGuard(guard))
	}
	rc, err := signer.NewReceiver(hs, opts...)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := newServer(rc.Middleware(printDelivery(out)), *bodyTime)
	out.printf("listening on http://%s/\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

// newServer returns the server for h, with a bound on every phase of a
// request, so that a slow or idle client cannot hold a connection. The
// middleware bounds the body by itself (bodyTimeout); ReadTimeout leaves it
// that time after the headers.
func newServer(h http.Handler, bodyTimeout time.Duration) *http.Server {
	const headers = 10 * time.Second
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: headers,
		ReadTimeout:       headers + bodyTimeout,
		WriteTimeout:      headers + bodyTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// printDelivery prints each verified request and answers 200.
func printDelivery(out *lockedWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := signer.MatchedHandler(r.Context())
		body, _ := signer.VerifiedBody(r.Context())
		var b strings.Builder
		fmt.Fprintf(&b, "%s verified by %q: %s %s from %s, %d bytes\n", stamp(), name, r.Method, r.URL.RequestURI(), r.RemoteAddr, len(body))
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s: %s\n", k, strings.Join(r.Header[k], ", "))
		}
		fmt.Fprintf(&b, "  %s\n", body)
		out.printf("%s", b.String())
		fmt.Fprintln(w, "ok")
	})
}

func stamp() string { return time.Now().Format(time.TimeOnly) }

// lockedWriter keeps the lines of concurrent requests apart.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}
