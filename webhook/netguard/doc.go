// Package netguard keeps outgoing webhook requests away from the sender's own
// network: loopback, private and link-local addresses (cloud metadata
// included), CGNAT, multicast and the other special-purpose ranges. The check
// runs at dial time on the resolved address, so DNS rebinding cannot get
// around it; allow- and deny-lists and explicit opt-outs adjust it.
//
// The shortest use is a hardened client with the default guard:
//
//	client := netguard.NewClient(netguard.New())
//	resp, err := client.Post(url, "application/json", body)
//	if errors.Is(err, netguard.ErrBlocked) {
//		// the URL points into a refused range
//	}
//
// An application that brings its own *http.Client wraps it with Wrap. CheckURL
// reports a bad webhook URL early, when the record is saved.
package netguard
