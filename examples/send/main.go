// Command send sends one signed webhook and prints the request it sent and
// the response it got, like curl but signing:
//
//	go run ./examples/send -url http://127.0.0.1:8080/ -secret S -scheme typo3 -data '{"a":1}'
//
// Flags choose the scheme and its parameters as signer.Config does (-header,
// -algo, -encoding, -prefix); -id is the webhook record UUID that typo3 signs
// and -msg-id the message ID of standard-webhooks. Without -secret a new one
// is generated and printed. The exit status is 1 unless the receiver answers 2xx.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/signer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "send:", err)
		}
		os.Exit(1)
	}
}

// listFlag is a flag that may be repeated.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		url      = fs.String("url", "", "receiver URL (required)")
		scheme   = fs.String("scheme", signer.SchemeTYPO3, "signing scheme: typo3, hmac, standard-webhooks, token or none")
		data     = fs.String("data", "{}", "request body; @FILE reads it from FILE")
		id       = fs.String("id", "", "webhook record UUID, signed by typo3 (default: random)")
		msgID    = fs.String("msg-id", "", "message ID, sent as webhook-id by standard-webhooks (default: random)")
		header   = fs.String("header", "", "signature header of hmac and token")
		algo     = fs.String("algo", "", "HMAC hash of typo3 and hmac: sha256, sha512 or sha1")
		encoding = fs.String("encoding", "", "encoding of hmac: hex or base64")
		prefix   = fs.String("prefix", "", "text before the signature (hmac) or the token (token), e.g. sha256=")
		method   = fs.String("method", http.MethodPost, "HTTP method")
		ctype    = fs.String("content-type", "application/json", "Content-Type of the body")
		timeout  = fs.Duration("timeout", 10*time.Second, "time allowed for the whole request")
		secrets  listFlag
		extra    listFlag
	)
	fs.Var(&secrets, "secret", "signing secret; repeat it to sign with the previous secret too (standard-webhooks)")
	fs.Var(&extra, "H", `extra header "Name: value"; may be repeated`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("-url is required and no arguments are taken")
	}

	cfg := signer.Config{Scheme: *scheme, Algorithm: *algo, Header: *header, Encoding: *encoding, Prefix: *prefix}
	s, err := signer.New(cfg)
	if err != nil {
		return err
	}
	if len(secrets) == 0 && *scheme != signer.SchemeNone {
		secret, err := signer.GenerateSecret(*scheme)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "# no -secret given, signing with the new secret %s\n", secret)
		secrets = append(secrets, secret)
	}
	for _, secret := range secrets {
		if err := signer.ValidateSecret(cfg, secret); err != nil {
			return err
		}
	}

	body := []byte(*data)
	if file, ok := strings.CutPrefix(*data, "@"); ok {
		if body, err = os.ReadFile(file); err != nil {
			return err
		}
	}
	if *id == "" {
		*id = uuid.NewString()
	}
	if *msgID == "" {
		*msgID = uuid.NewString()
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, *method, *url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", *ctype)
	req.Header.Set("User-Agent", "outhook-send")
	for _, e := range extra {
		k, v, ok := strings.Cut(e, ":")
		if !ok {
			return fmt.Errorf("-H %q is not \"Name: value\"", e)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	in := signer.Input{WebhookID: *id, MessageID: *msgID, Timestamp: time.Now(), Body: body}
	if err := s.Sign(req.Header, secrets, in); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "> %s %s\n", req.Method, req.URL)
	printHeaders(stdout, "> ", req.Header)
	fmt.Fprintf(stdout, ">\n%s\n\n", body)

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	const maxShown = 64 << 10
	got, err := io.ReadAll(io.LimitReader(resp.Body, maxShown))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	fmt.Fprintf(stdout, "< %s %s\n", resp.Proto, resp.Status)
	printHeaders(stdout, "< ", resp.Header)
	fmt.Fprintf(stdout, "<\n%s\n", got)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

func printHeaders(w io.Writer, mark string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s%s: %s\n", mark, k, v)
		}
	}
}
