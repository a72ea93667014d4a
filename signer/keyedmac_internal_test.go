package signer

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Pooled keyed states give the same sums as a fresh HMAC, from many
// goroutines and secrets at once, and the cache stays bounded.
func TestMACCacheMatchesFreshHMAC(t *testing.T) {
	c := &macCache{hash: sha256.New}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				secret := fmt.Sprintf("secret-%d", (g+i)%5)
				body := []byte(fmt.Sprintf("body %d %d", g, i))
				m := c.get(secret)
				m.writeString("id:")
				m.Write(body)
				got := string(m.sum())
				m.release()
				assert.Equal(t, string(mac(sha256.New, []byte(secret), []byte("id:"), body)), got)
			}
		}(g)
	}
	wg.Wait()

	for i := 0; i < macCacheSecrets+10; i++ {
		c.get(fmt.Sprint(i)).release()
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	require.LessOrEqual(t, len(c.pools), macCacheSecrets)
}
