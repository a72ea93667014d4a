package netguard_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/outhook/outhook/webhook/netguard"
)

// The default client refuses a receiver on the sender's own machine.
func ExampleNewClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	client := netguard.NewClient(netguard.New())
	_, err := client.Post(srv.URL, "application/json", nil)

	var blocked *netguard.BlockedError
	if errors.As(err, &blocked) {
		fmt.Println("refused", blocked.IP, "as", blocked.Reason)
	}
	// Output: refused 127.0.0.1 as loopback
}

// Tests and intranets lift blocks explicitly; redirects can be followed, each
// hop checked again.
func ExampleNewClient_options() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	guard := netguard.New(netguard.AllowLoopback())
	client := netguard.NewClient(guard,
		netguard.WithTimeout(10*time.Second),
		netguard.WithResponseHeaderTimeout(5*time.Second),
		netguard.WithRedirects(3),
	)
	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// An application that brings its own client keeps its settings and gains
// the guard.
func ExampleWrap() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	own := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	client, err := netguard.Wrap(own, netguard.New())
	if err != nil {
		fmt.Println(err) // only for a RoundTripper that is not an *http.Transport
		return
	}
	_, err = client.Get(srv.URL)
	fmt.Println(errors.Is(err, netguard.ErrBlocked))
	// Output: true
}

func ExampleGuard_CheckIP() {
	guard := netguard.New(
		netguard.AllowPrivate(),
		netguard.DenyPrefixes(netip.MustParsePrefix("10.99.0.0/16")),
	)
	for _, s := range []string{"93.184.216.34", "10.1.2.3", "10.99.0.1", "::ffff:127.0.0.1", "169.254.169.254"} {
		fmt.Printf("%s: %v\n", s, guard.CheckIP(netip.MustParseAddr(s)))
	}
	// Output:
	// 93.184.216.34: <nil>
	// 10.1.2.3: <nil>
	// 10.99.0.1: netguard: blocked address 10.99.0.1: on the deny list (10.99.0.0/16)
	// ::ffff:127.0.0.1: netguard: blocked address ::ffff:127.0.0.1: loopback
	// 169.254.169.254: netguard: blocked address 169.254.169.254: cloud metadata endpoint
}

// Control plugs the guard into any net.Dialer. It sees only addresses, not
// host names.
func ExampleGuard_Control() {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: netguard.New().Control}
	_, err := dialer.Dial("tcp", "127.0.0.1:6379")
	fmt.Println(err)
	// Output: dial tcp 127.0.0.1:6379: netguard: blocked address 127.0.0.1: loopback
}

// CheckURL reports a bad webhook URL when the record is saved.
func ExampleCheckURL() {
	for _, u := range []string{
		"https://hooks.example.com/in",
		"http://localhost:8080/",
		"http://0x7f.1/",
		"https://user:secret@hooks.example.com/",
		"gopher://hooks.example.com/",
	} {
		fmt.Println(netguard.CheckURL(u))
	}
	// Output:
	// <nil>
	// netguard: url with host "localhost": blocked: loopback name (RFC 6761)
	// netguard: url with host "0x7f.1": non-canonical IPv4 spelling of 127.0.0.1, blocked: loopback
	// netguard: url with host "hooks.example.com": contains credentials; pass them in a header or the signing secret
	// netguard: url with host "hooks.example.com": scheme "gopher", want http or https
}

// Every spelling of an endpoint gives one key: the host and port net/http
// connects to.
func ExampleCanonicalAddr() {
	for _, u := range []string{
		"https://hooks.example.com/in?token=x",
		"https://HOOKS.example.com.:0443/in",
		"https://ｈｏｏｋｓ。ｅｘａｍｐｌｅ.com/in",
		"http://bücher.example/",
		"http://[::ffff:192.0.2.1]:8080/",
	} {
		addr, err := netguard.CanonicalAddr(u)
		fmt.Println(addr, err)
	}
	// Output:
	// hooks.example.com:443 <nil>
	// hooks.example.com:443 <nil>
	// hooks.example.com:443 <nil>
	// xn--bcher-kva.example:80 <nil>
	// 192.0.2.1:8080 <nil>
}
