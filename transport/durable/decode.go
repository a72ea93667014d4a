package durable

import (
	"encoding/json"
	"fmt"

	"github.com/riverqueue/river/rivertype"
)

func decodeArgs(j *rivertype.JobRow) (Args, error) {
	var a Args
	if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
		return a, fmt.Errorf("durable: decode job %d: %w", j.ID, err)
	}
	return a, nil
}
