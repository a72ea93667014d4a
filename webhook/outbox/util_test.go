package outbox_test

import (
	"errors"
	"io"
	"log/slog"
	"os"
)

func errorsJoin(errs ...error) error { return errors.Join(errs...) }

// quietLogger drops River's and the sender's logs unless OUTHOOK_TEST_LOG is set.
func quietLogger() *slog.Logger {
	if os.Getenv("OUTHOOK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
