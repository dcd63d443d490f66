package matchingsvc

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// A capture of the remembered ids keeps what the ring held when it was taken, oldest first,
// however far the ring goes on (growing, then overwriting shared chunks); the ring forgets
// the oldest id once full.
func TestSeenCaptureIsCopyOnWrite(t *testing.T) {
	const size = 3*seenChunk + 100 // a short last chunk
	r := seenRing{size: size}
	var model []string // the ids the ring should hold, oldest first
	type taken struct {
		v    seenView
		want []string
	}
	var views []taken
	for i := range 4*size + 7 {
		id := fmt.Sprint("o", i)
		forgot, full := r.add(id)
		if len(model) == size {
			require.True(t, full, "id %d", i)
			require.Equal(t, model[0], forgot, "id %d forgets the oldest", i)
			model = model[1:]
		} else {
			require.False(t, full, "id %d", i)
		}
		model = append(model, id)
		if i%1777 == 0 || i == size-1 || i == size {
			views = append(views, taken{r.capture(), append([]string(nil), model...)})
		}
	}
	require.Equal(t, model, r.capture().ids(), "the ring")
	for _, v := range views {
		require.Equal(t, v.want, v.v.ids(), "a capture of %d ids", len(v.want))
	}
}
