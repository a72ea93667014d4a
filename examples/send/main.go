// Command send sends one signed webhook and prints the request it sent and
// the response it got, like curl but signing:
//
//	go run ./examples/send -url http://127.0.0.1:8080/ -secret S -scheme typo3 -data '{"a":1}'
//	go run ./examples/send -scheme standard-webhooks -generate-secret
//
// The request is made by outhook's own webhook.Sender, from a record built
// from the flags, so it is exactly what a Dispatcher sends: the documented
// headers (Content-Type, the signature, Webhook-Delivery-Id, Webhook-Trigger,
// User-Agent) and the record's extra headers (-H).
//
// Flags choose the scheme and its parameters as signer.Config does (-header,
// -algo, -encoding, -prefix); -id is the webhook record UUID that typo3 signs
// and -delivery-id the delivery's, which standard-webhooks sends as
// webhook-id. Without -secret a new one is generated and printed;
// -generate-secret prints one for -scheme and exits. The exit status is 1
// unless the receiver answers 2xx.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/signer"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
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

// options are the parsed flags.
type options struct {
	url, scheme, data, id, deliveryID, trigger string
	header, algo, encoding, prefix, method     string
	timeout                                    time.Duration
	generateSecret                             bool
	secrets, extra                             listFlag
}

func parse(args []string, stdout io.Writer) (*options, error) {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stdout)
	o := &options{}
	fs.StringVar(&o.url, "url", "", "receiver URL (required)")
	fs.StringVar(&o.scheme, "scheme", signer.SchemeTYPO3, "signing scheme: typo3, hmac, standard-webhooks, token or none")
	fs.BoolVar(&o.generateSecret, "generate-secret", false, "print a new secret in the format of -scheme and exit")
	fs.StringVar(&o.data, "data", "{}", "request body; @FILE reads it from FILE")
	fs.StringVar(&o.id, "id", "", "webhook record UUID, signed by typo3 (default: random)")
	fs.StringVar(&o.deliveryID, "delivery-id", "", "delivery UUID, sent as Webhook-Delivery-Id and as standard-webhooks' webhook-id (default: random)")
	fs.StringVar(&o.trigger, "trigger", "outhook/send", "trigger identifier, sent as Webhook-Trigger")
	fs.StringVar(&o.header, "header", "", "signature header of hmac and token")
	fs.StringVar(&o.algo, "algo", "", "HMAC hash of typo3 and hmac: sha256, sha512 or sha1")
	fs.StringVar(&o.encoding, "encoding", "", "encoding of hmac: hex or base64")
	fs.StringVar(&o.prefix, "prefix", "", "text before the signature (hmac) or the token (token), e.g. sha256=")
	fs.StringVar(&o.method, "method", http.MethodPost, "HTTP method: POST or GET")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time allowed for the attempt")
	fs.Var(&o.secrets, "secret", "signing secret; give it twice to sign with a previous secret too (standard-webhooks)")
	fs.Var(&o.extra, "H", `extra header "Name: value"; may be repeated`)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 || (o.url == "" && !o.generateSecret) {
		fs.Usage()
		return nil, errors.New("-url is required and no arguments are taken")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parse(args, stdout)
	if err != nil {
		return err
	}
	if o.generateSecret {
		secret, err := signer.GenerateSecret(o.scheme)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret)
		return nil
	}
	rec, err := record(o, stdout)
	if err != nil {
		return err
	}
	env, err := envelope(o, rec)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport:     &printingTransport{out: stdout, base: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	sender := webhook.NewSender(single{rec}, webhook.WithHTTPClient(client), webhook.WithAttemptTimeout(o.timeout),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	at := sender.Attempt(ctx, env, 1)
	if at.StatusCode == 0 {
		return at.Err
	}
	fmt.Fprintf(stdout, "<\n%s\n", at.Excerpt)
	if at.Outcome != transport.Success {
		return fmt.Errorf("receiver answered %d %s", at.StatusCode, http.StatusText(at.StatusCode))
	}
	return nil
}

// record builds the webhook record the flags describe, checked as a Store
// would check it, except that a short secret only gets a warning: this is a
// tool for trying receivers out.
func record(o *options, stdout io.Writer) (*webhook.Webhook, error) {
	rec := &webhook.Webhook{ID: uuid.New(), Name: "send", Triggers: []string{o.trigger}, URL: o.url, Method: o.method,
		Signing: signer.Config{Scheme: o.scheme, Algorithm: o.algo, Header: o.header, Encoding: o.encoding, Prefix: o.prefix}}
	if o.id != "" {
		id, err := uuid.Parse(o.id)
		if err != nil {
			return nil, fmt.Errorf("-id %q is not a UUID", o.id)
		}
		rec.ID = id
	}
	for _, e := range o.extra {
		k, v, ok := strings.Cut(e, ":")
		if !ok {
			return nil, fmt.Errorf("-H %q is not \"Name: value\"", e)
		}
		if rec.Headers == nil {
			rec.Headers = map[string]string{}
		}
		rec.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	// Everything but the secrets, which are checked below.
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	secrets, err := secrets(o, rec.Signing, stdout)
	if err != nil {
		return nil, err
	}
	if len(secrets) > 0 {
		rec.Secret = webhook.Secret(secrets[0])
	}
	if len(secrets) > 1 {
		rec.PreviousSecret, rec.PreviousSecretExpiresAt = webhook.Secret(secrets[1]), time.Now().Add(time.Hour)
	}
	return rec, nil
}

// secrets returns the -secret values, checked for cfg's scheme, or a new
// secret when none is given.
func secrets(o *options, cfg signer.Config, stdout io.Writer) ([]string, error) {
	if len(o.secrets) > 2 {
		return nil, errors.New("-secret is given more than twice: give the current secret and at most one previous one")
	}
	secrets := []string(o.secrets)
	if len(secrets) == 0 {
		secret, err := signer.GenerateSecret(o.scheme)
		if err != nil {
			return nil, err
		}
		if secret == "" { // scheme none
			return nil, nil
		}
		fmt.Fprintf(stdout, "# no -secret given, signing with the new secret %s\n", secret)
		secrets = []string{secret}
	}
	for _, secret := range secrets {
		if err := signer.ValidateSecret(cfg, secret); err != nil {
			return nil, err
		}
		if cfg.Scheme != signer.SchemeStandardWebhooks && cfg.Scheme != signer.SchemeNone && len(secret) < webhook.MinSecretLength {
			fmt.Fprintf(stdout, "# warning: a %d-byte secret; outhook's stores refuse secrets under %d bytes\n", len(secret), webhook.MinSecretLength)
		}
	}
	return secrets, nil
}

// envelope is the delivery the flags describe, of rec.
func envelope(o *options, rec *webhook.Webhook) (transport.Envelope, error) {
	body := []byte(o.data)
	if file, ok := strings.CutPrefix(o.data, "@"); ok {
		var err error
		if body, err = os.ReadFile(file); err != nil {
			return transport.Envelope{}, err
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return transport.Envelope{}, err
	}
	if o.deliveryID != "" {
		if id, err = uuid.Parse(o.deliveryID); err != nil {
			return transport.Envelope{}, fmt.Errorf("-delivery-id %q is not a UUID", o.deliveryID)
		}
	}
	return transport.Envelope{DeliveryID: id, WebhookID: rec.ID, Trigger: o.trigger, Body: body, CreatedAt: time.Now()}, nil
}

// single is a webhook.Getter that holds one record.
type single struct{ w *webhook.Webhook }

func (s single) Get(_ context.Context, id uuid.UUID) (*webhook.Webhook, error) {
	if id != s.w.ID {
		return nil, webhook.ErrNotFound
	}
	return s.w.Clone(), nil
}

// printingTransport prints each request it sends, and the status and
// headers of each response; the Sender reads the body.
type printingTransport struct {
	out  io.Writer
	base http.RoundTripper
}

func (p *printingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	fmt.Fprintf(p.out, "> %s %s\n", req.Method, req.URL)
	printHeaders(p.out, "> ", req.Header)
	var body []byte
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			body, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	fmt.Fprintf(p.out, ">\n%s\n\n", body)
	resp, err := p.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(p.out, "< %s %s\n", resp.Proto, resp.Status)
	printHeaders(p.out, "< ", resp.Header)
	return resp, nil
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
