package signer

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHexString(t *testing.T) {
	sum := []byte{0x00, 0x7f, 0xab, 0xff}
	for _, prefix := range []string{"", "sha256=", strings.Repeat("p", 200)} {
		assert.Equal(t, prefix+hex.EncodeToString(sum), hexString(prefix, sum))
	}
	long := []byte(strings.Repeat("\xfe", 100)) // beyond the stack buffer
	assert.Equal(t, "v="+hex.EncodeToString(long), hexString("v=", long))
}
