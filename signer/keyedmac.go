package signer

import (
	"crypto/hmac"
	"hash"
	"sync"
)

// macCacheSecrets bounds how many secrets a macCache keeps keyed states
// for; beyond it the cache starts over, so rotated secrets do not pile up.
const macCacheSecrets = 1024

// macCache hands out HMAC states already keyed with a secret, one pool per
// secret, so that signing with a secret seen before neither allocates nor
// hashes the key again. It is safe for concurrent use: a state belongs to
// one caller between get and release.
type macCache struct {
	hash func() hash.Hash

	mu    sync.RWMutex
	pools map[string]*sync.Pool // secret -> *keyedMAC
}

// keyedMAC is an HMAC state keyed with one secret, with room for its input
// pieces and its sum.
type keyedMAC struct {
	hash.Hash
	buf  [128]byte
	pool *sync.Pool
}

// get returns a fresh HMAC state keyed with secret.
func (c *macCache) get(secret string) *keyedMAC {
	c.mu.RLock()
	p := c.pools[secret]
	c.mu.RUnlock()
	if p == nil {
		p = c.pool(secret)
	}
	if k, ok := p.Get().(*keyedMAC); ok {
		return k
	}
	return &keyedMAC{Hash: hmac.New(c.hash, []byte(secret)), pool: p}
}

func (c *macCache) pool(secret string) *sync.Pool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.pools[secret]; p != nil {
		return p
	}
	if c.pools == nil || len(c.pools) >= macCacheSecrets {
		c.pools = map[string]*sync.Pool{}
	}
	p := &sync.Pool{}
	c.pools[secret] = p
	return p
}

// writeString writes s without converting it to a new slice.
func (k *keyedMAC) writeString(s string) {
	if len(s) > len(k.buf) {
		k.Write([]byte(s))
		return
	}
	k.Write(append(k.buf[:0], s...))
}

// sum returns the HMAC of what was written, valid until release.
func (k *keyedMAC) sum() []byte { return k.Sum(k.buf[:0]) }

// release resets k to its keyed state and returns it to its pool.
func (k *keyedMAC) release() {
	k.Reset()
	k.pool.Put(k)
}
