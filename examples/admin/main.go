// Command admin is a small app with outhook's admin handler (webhook/admin)
// mounted at /admin behind a demo login: the JSON API and the web page
// (TYPO3's System > Webhooks) over an in-memory store, a delivery log and
// the health monitor, a local receiver that checks signatures, and TYPO3's
// core triggers as message types, with a page that fires each.
//
//	go run ./examples/admin -password s3cret
//	go run ./examples/admin -portal org-a:alice:pw -portal org-b:bob:pw
//
// Sign in as -user (an operator: every tenant) or as a -portal user (one
// tenant). Everything lives in memory and is gone when the app stops. It
// listens on 127.0.0.1 only.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/admin"
	"github.com/outhook/outhook/webhook/health"
	"github.com/outhook/outhook/webhook/netguard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "admin:", err)
		os.Exit(1)
	}
}

// listFlag is a flag that may be repeated.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// options are the command's flags.
type options struct {
	addr, receiverAddr string
	user, password     string
	portals            listFlag
}

func parse(args []string, stdout io.Writer) (options, error) {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var o options
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address of the app (127.0.0.1 or localhost only)")
	fs.StringVar(&o.receiverAddr, "receiver-addr", "127.0.0.1:0", "address of the local receiver")
	fs.StringVar(&o.user, "user", "admin", "the operator's user name")
	fs.StringVar(&o.password, "password", "", "the operator's password (default: a random one, printed)")
	fs.Var(&o.portals, "portal", "a portal user as tenant:user:password (repeatable): sees only that tenant")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: admin [flags]\n\nA demo app with outhook's admin at /admin behind a login. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, a := range []string{o.addr, o.receiverAddr} {
		if host, _, err := net.SplitHostPort(a); err != nil || (host != "127.0.0.1" && host != "localhost") {
			return o, fmt.Errorf("address %q: listen on 127.0.0.1 only, this is a demo", a)
		}
	}
	if o.password == "" {
		b := make([]byte, 9)
		_, _ = rand.Read(b)
		o.password = hex.EncodeToString(b)
	}
	return o, nil
}

// demo is the app: outhook's parts, the receiver and the logins.
type demo struct {
	reg        *trigger.Registry
	store      *webhook.MemoryStore
	log        *webhook.MemoryLog
	monitor    *health.Monitor
	mem        *transport.Memory
	dispatcher *webhook.Dispatcher
	admin      *admin.Handler
	receiver   *receiver
	logins     *logins
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parse(args, stdout)
	if err != nil {
		return err
	}
	lg, err := newLogins(o)
	if err != nil {
		return err
	}
	d, err := newDemo(lg)
	if err != nil {
		return err
	}
	rl, err := net.Listen("tcp", o.receiverAddr)
	if err != nil {
		return err
	}
	al, err := net.Listen("tcp", o.addr)
	if err != nil {
		rl.Close()
		return err
	}
	receiverURL := "http://" + rl.Addr().String()
	if err := d.seed(ctx, receiverURL); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "receiver on %s/hooks (and %s/fail, which answers 503)\n", receiverURL, receiverURL)
	fmt.Fprintf(stdout, "sign in as %s with password %s\n", o.user, o.password)
	fmt.Fprintf(stdout, "listening on http://%s/\n", al.Addr())
	return serve(ctx, d, map[net.Listener]http.Handler{rl: d.receiver, al: d.routes()})
}

// newDemo wires outhook: records in memory, deliveries on the Memory
// transport, every attempt in a MemoryLog and through the health monitor.
func newDemo(lg *logins) (*demo, error) {
	reg, err := typo3Triggers()
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	d := &demo{reg: reg, store: webhook.NewMemoryStore(), log: webhook.NewMemoryLog(), logins: lg}
	d.monitor = health.New(d.store, health.WithLogger(quiet))
	d.mem = transport.NewMemory(transport.WithLogger(quiet))
	// The demo's receiver is on 127.0.0.1, which the default guard refuses.
	guard := netguard.New(netguard.AllowLoopback())
	d.dispatcher = webhook.NewDispatcher(d.store, reg, webhook.WithTransport(d.mem), webhook.WithGuard(guard),
		webhook.WithLogger(quiet), webhook.WithMiddleware(webhook.LogAttempts(d.log), d.monitor.Middleware()))
	d.receiver = newReceiver(d.store)
	d.admin, err = admin.New(d.store, reg, lg.authorize,
		admin.WithDeliveryLog(d.log), admin.WithResender(webhook.NewResender(d.dispatcher, d.log)),
		admin.WithHealth(d.monitor), admin.WithTestSender(d.dispatcher.Sender()), admin.WithGuard(guard),
		admin.WithUnauthorized(http.RedirectHandler("/login", http.StatusSeeOther)), admin.WithLogger(quiet))
	return d, err
}

// seed creates a record for the local receiver, subscribed to every trigger.
func (d *demo) seed(ctx context.Context, receiverURL string) error {
	var all []string
	for _, t := range d.reg.Triggers() {
		all = append(all, t.Identifier)
	}
	return d.store.Create(ctx, &webhook.Webhook{Name: "Local receiver", Description: "The demo's own receiver: it checks the signature",
		Triggers: all, URL: receiverURL + "/hooks"})
}

// serve runs a server per listener until ctx ends, then shuts them down
// and drains the delivery queue.
func serve(ctx context.Context, d *demo, handlers map[net.Listener]http.Handler) error {
	errc := make(chan error, len(handlers))
	var servers []*http.Server
	for ln, h := range handlers {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
			WriteTimeout: 90 * time.Second, IdleTimeout: time.Minute}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(ln) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	_, _ = d.mem.Close(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
