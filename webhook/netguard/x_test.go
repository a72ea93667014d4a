package netguard
import ("testing"; "github.com/stretchr/testify/require"; "github.com/stretchr/testify/assert")
func TestX(t *testing.T){ require.True(t,true); assert.Equal(t,1,1)}
