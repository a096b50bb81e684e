package main

import (
	"log/slog"

	"github.com/fcgihost/fcgihost/prefork"
)

// memoryLimiter returns how each worker's memory limit is enforced (nil
// when limit is 0): see prefork.NewLimiter.
func memoryLimiter(limit int64, log *slog.Logger) (prefork.Limiter, error) {
	if limit <= 0 {
		return nil, nil
	}
	return prefork.NewLimiter(limit, log)
}
