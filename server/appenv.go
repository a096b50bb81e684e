package server

import (
	"os"
	"strings"
)

// appEnv is the environment an app's scripts see, from its env entries:
// "NAME=VALUE" sets NAME; a bare "NAME" takes fcgihost's own value, if it
// has one — how a secret stays out of the config file (README.md,
// "Per-app environment and secrets"). Nothing else of fcgihost's
// environment is visible. nil when env is empty.
func appEnv(env []string, lookup func(string) (string, bool)) map[string]string {
	if len(env) == 0 {
		return nil
	}
	m := make(map[string]string, len(env))
	for _, e := range env {
		if name, val, ok := strings.Cut(e, "="); ok {
			m[name] = val
		} else if val, ok := lookup(e); ok {
			m[e] = val
		}
	}
	return m
}

// processAppEnv is appEnv with fcgihost's own environment.
func processAppEnv(env []string) map[string]string { return appEnv(env, os.LookupEnv) }
