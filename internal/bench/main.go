// Command bench measures outhook against baselines that do the same work
// without it, in one process and one run, and prints one Markdown table.
// These are the comparisons the README's Performance section quotes. The
// sync rows do exactly what BenchmarkDispatch and BenchmarkBaselinePOST in
// webhook do; the others follow BenchmarkDeliveries in webhook/outbox,
// with the same 1 KiB body as the sync rows, a signed baseline POST, and
// River's no-op ceiling on the same database as the deliveries.
//
//	go run ./internal/bench                        # every row, 2–3 min on 2 cores
//	go run ./internal/bench -only sync,memory/16   # some rows
//	go run ./internal/bench -quick                 # a smoke run, not a measurement
//	OUTHOOK_TEST_POSTGRES=postgres://... go run ./internal/bench   # adds River + PostgreSQL
//	go run ./internal/bench -only memory/16 -side outhook -cpuprofile cpu.out   # profile one side
//
// Flags: -n deliveries per measurement for every row (default: each row's
// own, 2,000–3,000 for River and 3,000–8,000 for the others), -reps repetitions
// per side (default 3), -only rows by name or prefix, -client tuned|guarded
// (below), -quick a few deliveries per row and one repetition, -cpuprofile
// a CPU profile of the run, and -side outhook|baseline to run one side only
// (its table then compares nothing; it is for the profile).
//
// Every request carries the same 1 KiB JSON body to one receiver on
// 127.0.0.1 that reads it and answers 204. The rows:
//
//   - sync/1, sync/10: time per Dispatch with transport.Sync (the default)
//     to 1 or 10 webhook records: trigger lookup, encoding, record
//     selection, signing, the POSTs and their results. The baseline makes
//     the same signed POSTs by hand with net/http and crypto/hmac, one
//     goroutine per record, exactly as BenchmarkBaselinePOST does.
//   - memory/1, memory/16, memory/128: deliveries per second end to end
//     (Dispatch → 2xx answered by the receiver) through transport.Memory
//     with that many workers. The baseline is bare net/http: as many
//     goroutines making the signed POSTs from a channel.
//   - guard/16, guard/128: the cost of the SSRF guard, outhook against
//     outhook: deliveries per second through transport.Memory with the
//     default guarded client (webhook.WithGuard(netguard.New(
//     netguard.AllowLoopback())), its idle pool sized by the Dispatcher from
//     the workers) against the same Memory with an unguarded client of the
//     same pool settings (netguard's transport with a plain net.Dialer).
//     These rows ignore -client.
//   - river-postgres-scale/16: two Outboxes on one PostgreSQL database, each
//     with its own pool, River client and 16 workers, each dispatching half
//     the messages, vs one Outbox dispatching them all (ratio = two ÷ one).
//     The row has its own receiver, which answers after 50 ms, as a real
//     endpoint does, so that an instance is bound by its workers rather
//     than by the 2 cores every process here shares, and fails the run
//     when a delivery ID arrives while a request with it is still being
//     answered.
//   - river-sqlite/16, river-postgres/16: deliveries per second end to end
//     through the durable transport (River) with 16 workers, on a SQLite
//     file in a temporary directory, and on PostgreSQL in a fresh schema
//     (dropped afterwards) when OUTHOOK_TEST_POSTGRES is set. One Dispatch,
//     so one insert transaction, per delivery. The baseline is River's own
//     ceiling on the same database and client: no-op jobs, inserted one per
//     transaction too, worked by the same 16 workers.
//
// Each row builds its setup once, warms both sides up, then runs baseline
// and outhook back to back, alternating which goes first, -reps times, and
// reports the median of each side. "ratio" is outhook ÷ baseline in the
// row's unit: for µs per Dispatch, 1.40× means 40 % slower than the
// baseline; for deliveries/s, 0.80× means 80 % of the baseline's
// throughput. Compare ratios between machines, not absolute numbers.
//
// By default the dispatcher gets a client configured exactly like the
// baseline's (webhook.WithHTTPClient; keep-alive, enough idle connections
// per host for every worker, no proxy, no SSRF guard), so the ratios measure
// outhook and not client settings. -client guarded measures the default
// client instead, guarded with netguard.AllowLoopback(): the dial-time check
// and its idle pool, which the Dispatcher sizes from the transport's
// concurrency (at least 16 per host). The output says which was used.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
)

// postgresEnv names the PostgreSQL DSN; the river-postgres row needs it.
const postgresEnv = "OUTHOOK_TEST_POSTGRES"

const rawTrigger = "bench/raw"

// body is a 1 KiB JSON message, the one BenchmarkDispatch sends.
var body = json.RawMessage(`{"data":"` + strings.Repeat("x", 1024-11) + `"}`)

// rawMessage sends its bytes as they are.
type rawMessage json.RawMessage

func (r rawMessage) JSONSerialize() any { return json.RawMessage(r) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		log.Fatalf("bench: %v", err)
	}
}

// unit is what a row reports.
type unit int

const (
	perDispatch unit = iota // µs per Dispatch (or per batch of baseline POSTs)
	perSecond               // deliveries per second
)

// row is one comparison.
type row struct {
	name string // for -only
	what string // outhook vs baseline, for the table
	unit unit
	// records is how many deliveries one Dispatch makes.
	records int
	// n and quickN are the default deliveries per measurement.
	n, quickN int
	// skip, if it returns a reason, leaves the row out with a note.
	skip func() string
	// setup prepares both sides; close undoes it.
	setup func(ctx context.Context, e *env) (sides, error)
}

// sides are the two measured functions of a row; each makes n deliveries
// and returns how long that took.
type sides struct {
	baseline, outhook func(ctx context.Context, n int) (time.Duration, error)
	// wire, if set, is the baseline making the request outhook makes (see
	// wirePoster): the rows' second ratio.
	wire  func(ctx context.Context, n int) (time.Duration, error)
	close func()
}

// env is what the rows share.
type env struct {
	recv    *receiver
	reg     *trigger.Registry
	guarded bool
	log     *slog.Logger
	dsn     string
}

// result is a measured row.
type result struct {
	row               *row
	n                 int
	outhook, baseline float64 // in the row's unit
	wire              float64 // 0 without a wire side
	// Heap allocations per delivery (median), the process's in all: the
	// receiver's and, on River, the queue's as well as the sender's.
	outhookAllocs, baselineAllocs float64
}

func (r result) ratio() float64 { return r.outhook / r.baseline }

// wireRatio is outhook ÷ the same request made by hand, or 0.
func (r result) wireRatio() float64 {
	if r.wire == 0 {
		return 0
	}
	return r.outhook / r.wire
}

func rows() []*row {
	rs := []*row{
		syncRow(1, 3000, 40),
		syncRow(10, 6000, 100),
		memoryRow(1, 4000, 100),
		memoryRow(16, 8000, 200),
		memoryRow(128, 8000, 200),
		guardRow(16, 8000, 200),
		guardRow(128, 8000, 200),
		// River's rows run a few seconds per side: a fetch that waits for
		// River's poll (up to a second, on either side) at the end of a run
		// would weigh on a shorter one more than the deliveries do.
		riverRow("sqlite", 16, 2000, 10),
		riverRow("postgres", 16, 3000, 10),
		scaleRow(16, 2000, 10),
	}
	return rs
}

func run(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 0, "deliveries per measurement for every row (default: each row's own, sized for a run of a few seconds per side)")
	quick := fs.Bool("quick", false, "a tiny smoke run: a few deliveries per row, one repetition")
	only := fs.String("only", "", "comma-separated rows to run, by name or prefix (sync, memory/16, river-sqlite); default all")
	reps := fs.Int("reps", 3, "repetitions per side; the median is reported")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the measured runs to `file` (with -side, of one side only)")
	side := fs.String("side", "both", "which side to run: both, outhook or baseline (one side measures nothing: for -cpuprofile)")
	client := fs.String("client", "tuned", "the dispatcher's HTTP client: tuned (WithHTTPClient, the baseline's settings) or guarded (WithGuard(netguard.New(netguard.AllowLoopback())))")
	fs.SetOutput(w)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *client != "tuned" && *client != "guarded" {
		return fmt.Errorf("-client %q: want tuned or guarded", *client)
	}
	if *quick {
		*reps = 1
	}
	if *reps < 1 {
		return fmt.Errorf("-reps %d: want at least 1", *reps)
	}
	if *side != "both" && *side != "outhook" && *side != "baseline" {
		return fmt.Errorf("-side %q: want both, outhook or baseline", *side)
	}
	selected, err := selectRows(rows(), *only)
	if err != nil {
		return err
	}

	reg := trigger.NewRegistry()
	if err := trigger.Register[rawMessage](reg, rawTrigger, "1 KiB of raw JSON"); err != nil {
		return err
	}
	recv, err := startReceiver()
	if err != nil {
		return err
	}
	defer recv.close()
	e := &env{recv: recv, reg: reg, guarded: *client == "guarded", dsn: os.Getenv(postgresEnv),
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var results []result
	var notes []string
	for _, r := range selected {
		if r.skip != nil {
			if why := r.skip(); why != "" {
				notes = append(notes, fmt.Sprintf("%s: skipped, %s.", r.name, why))
				continue
			}
		}
		size := r.n
		if *quick {
			size = r.quickN
		}
		if *n > 0 {
			size = *n
		}
		size = max(size, r.records)
		res, err := measureRow(ctx, e, r, size, *reps, *side)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		results = append(results, res)
	}
	printTable(w, results, notes, *reps, *client, *quick)
	return nil
}

// selectRows picks the rows named in only: a term matches a row by its name
// or by a prefix ending at a slash ("memory" picks memory/1, /16, /128).
func selectRows(all []*row, only string) ([]*row, error) {
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	var out []*row
	for term := range strings.SplitSeq(only, ",") {
		term = strings.TrimSpace(term)
		found := false
		for _, r := range all {
			if r.name == term || strings.HasPrefix(r.name, term+"/") {
				found = true
				if !slices.Contains(out, r) {
					out = append(out, r)
				}
			}
		}
		if !found {
			names := make([]string, len(all))
			for i, r := range all {
				names[i] = r.name
			}
			return nil, fmt.Errorf("-only %q: no row %q (rows: %s)", only, term, strings.Join(names, ", "))
		}
	}
	// Keep the table's order whatever the order of the terms.
	slices.SortFunc(out, func(a, b *row) int { return slices.Index(all, a) - slices.Index(all, b) })
	return out, nil
}

// measureRow sets r up, warms its sides up (baseline and outhook, and the
// same-request baseline where the row has one; only the side named by
// which, unless it is "both"), then runs them back to back reps times, each
// going first in turn so that drift (a warming cache, a growing job table)
// falls on all, and keeps the median of each.
func measureRow(ctx context.Context, e *env, r *row, n, reps int, which string) (result, error) {
	s, err := r.setup(ctx, e)
	if err != nil {
		return result{}, fmt.Errorf("setup: %w", err)
	}
	defer s.close()
	type side struct {
		name   string
		f      func(context.Context, int) (time.Duration, error)
		times  []time.Duration
		allocs []float64
	}
	base := &side{name: "baseline", f: s.baseline}
	out := &side{name: "outhook", f: s.outhook}
	wire := &side{name: "same-request baseline", f: s.wire}
	all := []*side{base, out}
	if s.wire != nil {
		all = append(all, wire)
	}
	switch which {
	case "outhook":
		all = []*side{out}
	case "baseline":
		all = []*side{base}
	}
	for _, sd := range all {
		if _, err := timed(ctx, sd.f, max(n/5, r.records)); err != nil {
			return result{}, fmt.Errorf("%s warm-up: %w", sd.name, err)
		}
	}
	for i := range reps {
		// Each side goes first in turn, so that drift (a warming cache, a
		// growing job table) falls on all of them.
		for k := range all {
			sd := all[(i+k)%len(all)]
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d, err := timed(ctx, sd.f, n)
			if err != nil {
				return result{}, fmt.Errorf("%s: %w", sd.name, err)
			}
			runtime.ReadMemStats(&after)
			sd.times = append(sd.times, d)
			sd.allocs = append(sd.allocs, float64(after.Mallocs-before.Mallocs)/float64(n))
		}
	}
	for _, sd := range []*side{base, out} {
		if sd.times == nil { // -side: the other one did not run
			sd.times, sd.allocs = []time.Duration{1}, []float64{0}
		}
	}
	res := result{row: r, n: n}
	res.baseline = value(r, n, median(base.times))
	res.outhook = value(r, n, median(out.times))
	if wire.times != nil {
		res.wire = value(r, n, median(wire.times))
	}
	res.baselineAllocs, res.outhookAllocs = median(base.allocs), median(out.allocs)
	return res, nil
}

// timed runs f under a deadline, so that a lost delivery fails the run
// instead of hanging it.
func timed(ctx context.Context, f func(context.Context, int) (time.Duration, error), n int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return f(ctx, n)
}

func value(r *row, n int, d time.Duration) float64 {
	if r.unit == perDispatch {
		return d.Seconds() * 1e6 / float64(n/r.records)
	}
	return float64(n) / d.Seconds()
}

func median[T time.Duration | float64](ds []T) T {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(w io.Writer, results []result, notes []string, reps int, client string, quick bool) {
	fmt.Fprintf(w, "outhook bench: %s %s/%s, %d CPUs (GOMAXPROCS %d); 1 KiB JSON body to a receiver on 127.0.0.1; "+
		"baseline and outhook alternated after a warm-up, median of %d.\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), reps)
	if client == "guarded" {
		fmt.Fprintln(w, "Dispatcher client: guarded, the default client with webhook.WithGuard(netguard.New(netguard.AllowLoopback())) "+
			"(dial-time check, idle connections per host sized from the transport's concurrency, at least 16); the baseline's is tuned.")
	} else {
		fmt.Fprintln(w, "Dispatcher client: tuned, webhook.WithHTTPClient with a client configured exactly like the baseline's "+
			"(keep-alive, idle connections for every worker, no proxy, no SSRF guard).")
	}
	if quick {
		fmt.Fprintln(w, "-quick: a smoke run, the numbers mean nothing.")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| row | outhook vs baseline | deliveries | outhook | baseline | ratio | same request | ratio to it | allocs/delivery outhook − baseline |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range results {
		same, sameRatio := "—", "—"
		if r.wire > 0 {
			same, sameRatio = format(r.row.unit, r.wire), fmt.Sprintf("%.2f×", r.wireRatio())
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.2f× | %s | %s | %+.0f (%.0f − %.0f) |\n",
			r.row.name, r.row.what, thousands(float64(r.n)), format(r.row.unit, r.outhook), format(r.row.unit, r.baseline), r.ratio(),
			same, sameRatio, r.outhookAllocs-r.baselineAllocs, r.outhookAllocs, r.baselineAllocs)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ratio = outhook ÷ baseline. µs/op is per Dispatch (per batch of POSTs for the baseline): 1.40× is 40 % slower. "+
		"/s is deliveries per second end to end: 0.80× is 80 % of the baseline's throughput. "+
		"allocs/delivery counts the whole process's heap allocations (the receiver's too, and River's on its rows), as go test -benchmem does. "+
		"same request is the baseline making the request outhook makes (its User-Agent, Webhook-Delivery-Id and Webhook-Trigger headers, "+
		"and a context with the attempt timeout): the ratio to it is outhook's own cost, without what its wire format costs both ends.")
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
}

func format(u unit, v float64) string {
	if u == perDispatch {
		return fmt.Sprintf("%.1f µs/op", v)
	}
	return thousands(v) + "/s"
}

// thousands formats v rounded, with commas: 16974.2 → "16,974".
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", math.Round(v))
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// --- the receiver ---

// receiver is the loopback endpoint every row posts to. It counts 2xx
// answers into the tally of the measurement in progress, if any.
type receiver struct {
	srv   *http.Server
	url   string
	tally atomic.Pointer[tally]
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{url: "http://" + ln.Addr().String() + "/hook"}
	rc.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		if t := rc.tally.Load(); t != nil {
			t.add()
		}
	})}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

func (rc *receiver) close() { _ = rc.srv.Close() }

// tally counts deliveries until it has want of them.
type tally struct {
	n      atomic.Int64
	want   int64
	done   chan struct{}
	once   sync.Once
	err    error
	failed chan struct{}
}

// dispatchAll dispatches msg n times and waits until the receiver has
// counted n arrivals on t; it returns the time from first Dispatch to last
// arrival.
func (e *env) dispatchAll(ctx context.Context, t *tally, n int,
	dispatch func(context.Context, trigger.Message, ...webhook.DispatchOption) ([]webhook.Delivery, error), msg trigger.Message) (time.Duration, error) {
	e.recv.tally.Store(t)
	defer e.recv.tally.Store(nil)
	start := time.Now()
	for range n {
		if _, err := dispatch(ctx, msg); err != nil {
			return 0, err
		}
	}
	if err := t.wait(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func newTally(want int) *tally {
	return &tally{want: int64(want), done: make(chan struct{}), failed: make(chan struct{})}
}

func (t *tally) add() {
	if t.n.Add(1) == t.want {
		close(t.done)
	}
}

func (t *tally) fail(err error) {
	t.once.Do(func() { t.err = err; close(t.failed) })
}

func (t *tally) wait(ctx context.Context) error {
	select {
	case <-t.done:
		return nil
	case <-t.failed:
		return t.err
	case <-ctx.Done():
		return fmt.Errorf("%d of %d deliveries arrived: %w", t.n.Load(), t.want, ctx.Err())
	}
}

// --- clients ---

// tunedClient is the baseline's client, and the dispatcher's unless
// -client guarded: keep-alive with an idle connection for every worker.
func tunedClient(workers int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: max(workers, 64),
		IdleConnTimeout:     90 * time.Second,
	}}
}

// senderOptions returns the client option and a function closing its
// idle connections (a no-op for the default client, which is not ours).
func (e *env) senderOptions(workers int) ([]webhook.SenderOption, func()) {
	opts := []webhook.SenderOption{webhook.WithLogger(e.log)}
	if e.guarded {
		return append(opts, webhook.WithGuard(netguard.New(netguard.AllowLoopback()))), func() {}
	}
	c := tunedClient(workers)
	return append(opts, webhook.WithHTTPClient(c)), c.CloseIdleConnections
}

// dispatcherOptions gives sender options, and more, to NewDispatcher.
func dispatcherOptions(sender []webhook.SenderOption, more ...webhook.DispatcherOption) []webhook.DispatcherOption {
	out := make([]webhook.DispatcherOption, 0, len(sender)+len(more))
	for _, o := range sender {
		out = append(out, o)
	}
	return append(out, more...)
}

// poster makes the baseline's request: the TYPO3 signature computed with
// crypto/hmac and a POST with net/http, as BenchmarkBaselinePOST does.
type poster struct {
	client *http.Client
	url    string
	// same, when set, makes the request outhook makes (the same-request
	// baseline): these headers as well, and a context with the attempt
	// timeout, webhook.DefaultAttemptTimeout.
	same http.Header
}

// sameRequest returns p making the request outhook makes for the record
// of store: with the headers of the request its Sender builds, but for
// those p sets itself.
func (p poster) sameRequest(ctx context.Context, store webhook.Store) (poster, error) {
	recs, err := store.ListActive(ctx, webhook.Route{Trigger: rawTrigger})
	if err != nil || len(recs) == 0 {
		return p, fmt.Errorf("same-request baseline: no record (%v)", err)
	}
	env := transport.Envelope{DeliveryID: uuid.New(), WebhookID: recs[0].ID, Trigger: rawTrigger, Body: body}
	req, err := webhook.NewSender(store).Request(ctx, env, time.Now())
	if err != nil {
		return p, fmt.Errorf("same-request baseline: %w", err)
	}
	p.same = http.Header{}
	for k, v := range req.Header {
		switch k {
		case "Content-Type", "Webhook-Signature", "Webhook-Signature-Algo":
		default:
			p.same[k] = v
		}
	}
	return p, nil
}

func (p poster) post(ctx context.Context, id string) error {
	if p.same != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, webhook.DefaultAttemptTimeout)
		defer cancel()
	}
	m := hmac.New(sha256.New, []byte("secret"))
	m.Write([]byte(id))
	m.Write([]byte{':'})
	m.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Webhook-Signature-Algo", "sha256")
	req.Header.Set("Webhook-Signature", hex.EncodeToString(m.Sum(nil)))
	for k, v := range p.same {
		req.Header[k] = v
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("baseline POST: HTTP %d", resp.StatusCode)
	}
	return nil
}

func newStore(ctx context.Context, url string, records int) (webhook.Store, error) {
	store := webhook.NewMemoryStore()
	for i := range records {
		if err := store.Create(ctx, &webhook.Webhook{Name: fmt.Sprintf("bench %d", i), Triggers: []string{rawTrigger}, URL: url}); err != nil {
			return nil, err
		}
	}
	return store, nil
}

// --- sync/N ---

func syncRow(records, n, quickN int) *row {
	return &row{
		name: fmt.Sprintf("sync/%d", records),
		what: fmt.Sprintf("Dispatch (transport.Sync) to %d %s vs %s with net/http + crypto/hmac",
			records, plural(records, "record", "records"), plural(records, "1 signed POST", fmt.Sprintf("%d concurrent signed POSTs", records))),
		unit: perDispatch, records: records, n: n, quickN: quickN,
		setup: func(ctx context.Context, e *env) (sides, error) {
			store, err := newStore(ctx, e.recv.url, records)
			if err != nil {
				return sides{}, err
			}
			opts, closeClient := e.senderOptions(records)
			d := webhook.NewDispatcher(store, e.reg, dispatcherOptions(opts)...)
			msg := rawMessage(body)
			p := poster{client: tunedClient(records), url: e.recv.url}
			same, err := p.sameRequest(ctx, store)
			if err != nil {
				return sides{}, err
			}
			ids := make([]string, records)
			for i := range ids {
				ids[i] = uuid.NewString()
			}
			return sides{
				outhook: func(ctx context.Context, n int) (time.Duration, error) {
					start := time.Now()
					for range n / records {
						ds, err := d.Dispatch(ctx, msg)
						if err != nil {
							return 0, err
						}
						if len(ds) != records {
							return 0, fmt.Errorf("dispatch: %d deliveries, want %d", len(ds), records)
						}
						for _, del := range ds {
							if del.Status != webhook.StatusDelivered {
								return 0, fmt.Errorf("dispatch: delivery %s: %s: %v", del.ID, del.Status, del.Err)
							}
						}
					}
					return time.Since(start), nil
				},
				baseline: syncPosts(p, ids),
				wire:     syncPosts(same, ids),
				close:    func() { closeClient(); p.client.CloseIdleConnections() },
			}, nil
		},
	}
}

// syncPosts is the sync rows' baseline: p's POSTs, to every ID at once
// for each Dispatch.
func syncPosts(p poster, ids []string) func(ctx context.Context, n int) (time.Duration, error) {
	return func(ctx context.Context, n int) (time.Duration, error) {
		start := time.Now()
		for range n / len(ids) {
			if len(ids) == 1 {
				if err := p.post(ctx, ids[0]); err != nil {
					return 0, err
				}
				continue
			}
			var wg sync.WaitGroup
			errs := make([]error, len(ids))
			for i, id := range ids {
				wg.Go(func() { errs[i] = p.post(ctx, id) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// --- guard/N ---

func guardRow(workers, n, quickN int) *row {
	return &row{
		name: fmt.Sprintf("guard/%d", workers),
		what: fmt.Sprintf("transport.Memory, %d workers: the default (guarded) client vs an unguarded one with the same pool", workers),
		unit: perSecond, records: 1, n: n, quickN: quickN,
		setup: func(ctx context.Context, e *env) (sides, error) {
			store, err := newStore(ctx, e.recv.url, 1)
			if err != nil {
				return sides{}, err
			}
			guarded := newMemoryDispatch(e, store, workers, webhook.WithGuard(netguard.New(netguard.AllowLoopback())))
			// The same settings as the default client the Dispatcher builds
			// for as many workers, dialing without the guard.
			ut := netguard.NewTransport(nil, netguard.WithMaxIdleConnsPerHost(max(workers, netguard.DefaultMaxIdleConnsPerHost)))
			ut.DialContext = (&net.Dialer{Timeout: netguard.DefaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext
			unguardedClient := &http.Client{Transport: ut, Timeout: netguard.DefaultTimeout,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			unguarded := newMemoryDispatch(e, store, workers, webhook.WithHTTPClient(unguardedClient))
			return sides{
				outhook:  guarded.run,
				baseline: unguarded.run,
				close: func() {
					guarded.close()
					unguarded.close()
					ut.CloseIdleConnections()
				},
			}, nil
		},
	}
}

// memoryDispatch is a Dispatcher on a transport.Memory of its own, whose
// failures fail the measurement in progress.
type memoryDispatch struct {
	run   func(ctx context.Context, n int) (time.Duration, error)
	close func()
}

func newMemoryDispatch(e *env, store webhook.Store, workers int, client webhook.SenderOption) memoryDispatch {
	var current atomic.Pointer[tally]
	mem := transport.NewMemory(transport.WithWorkers(workers), transport.WithQueueSize(1_000_000), transport.WithLogger(e.log),
		transport.WithPerEndpoint(0),
		transport.WithOnDone(func(env transport.Envelope, r transport.Result) {
			if r.Status != transport.StatusDelivered {
				if t := current.Load(); t != nil {
					t.fail(fmt.Errorf("delivery %s: %s: %v", env.DeliveryID, r.Status, r.Err))
				}
			}
		}))
	d := webhook.NewDispatcher(store, e.reg, webhook.WithLogger(e.log), client, webhook.WithTransport(mem))
	msg := rawMessage(body)
	return memoryDispatch{
		run: func(ctx context.Context, n int) (time.Duration, error) {
			t := newTally(n)
			current.Store(t)
			return e.dispatchAll(ctx, t, n, d.Dispatch, msg)
		},
		close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = mem.Close(ctx)
		},
	}
}

// --- memory/N ---

func memoryRow(workers, n, quickN int) *row {
	return &row{
		name: fmt.Sprintf("memory/%d", workers),
		what: fmt.Sprintf("transport.Memory, %d %s vs net/http, %d %s",
			workers, plural(workers, "worker", "workers"), workers, plural(workers, "goroutine", "goroutines")),
		unit: perSecond, records: 1, n: n, quickN: quickN,
		setup: func(ctx context.Context, e *env) (sides, error) {
			store, err := newStore(ctx, e.recv.url, 1)
			if err != nil {
				return sides{}, err
			}
			var current atomic.Pointer[tally] // failures go to the measurement in progress
			// One record: lift the per-record fair share (a quarter of the
			// workers by default) so every worker serves it, as the baseline's
			// goroutines do.
			mem := transport.NewMemory(transport.WithWorkers(workers), transport.WithQueueSize(1_000_000), transport.WithLogger(e.log),
				transport.WithPerEndpoint(0),
				transport.WithOnDone(func(env transport.Envelope, r transport.Result) {
					if r.Status != transport.StatusDelivered {
						if t := current.Load(); t != nil {
							t.fail(fmt.Errorf("delivery %s: %s: %v", env.DeliveryID, r.Status, r.Err))
						}
					}
				}))
			opts, closeClient := e.senderOptions(workers)
			d := webhook.NewDispatcher(store, e.reg, dispatcherOptions(opts, webhook.WithTransport(mem))...)
			msg := rawMessage(body)
			p := poster{client: tunedClient(workers), url: e.recv.url}
			same, err := p.sameRequest(ctx, store)
			if err != nil {
				_, _ = mem.Close(ctx) // nothing was sent
				closeClient()
				return sides{}, err
			}
			id := uuid.NewString()
			return sides{
				outhook: func(ctx context.Context, n int) (time.Duration, error) {
					t := newTally(n)
					current.Store(t)
					return e.dispatchAll(ctx, t, n, d.Dispatch, msg)
				},
				baseline: e.goroutinePosts(p, id, workers),
				wire:     e.goroutinePosts(same, id, workers),
				close: func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_, _ = mem.Close(ctx)
					closeClient()
					p.client.CloseIdleConnections()
				},
			}, nil
		},
	}
}

// goroutinePosts is the memory rows' baseline: p's POSTs made by as many
// goroutines as the transport has workers, taking them from a channel.
func (e *env) goroutinePosts(p poster, id string, workers int) func(ctx context.Context, n int) (time.Duration, error) {
	return func(ctx context.Context, n int) (time.Duration, error) {
		t := newTally(n)
		e.recv.tally.Store(t)
		defer e.recv.tally.Store(nil)
		jobs := make(chan struct{})
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for range jobs {
					if err := p.post(ctx, id); err != nil {
						t.fail(err)
					}
				}
			})
		}
		for range n {
			jobs <- struct{}{}
		}
		close(jobs)
		err := t.wait(ctx)
		d := time.Since(start)
		wg.Wait()
		return d, err
	}
}
