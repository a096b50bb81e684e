package server

import (
	"errors"
	"io/fs"
	"os"

	"github.com/fcgihost/fcgihost/config"
)

// appsDir is the apps dir the registry serves: cfg.Apps, except that a
// shared-hosting config (roots set) that leaves apps at its default
// ./apps, with no ./apps there, has none (docs/reference.md §2: the apps
// dir is optional when roots are configured).
func appsDir(cfg *config.Config) string {
	if cfg.Apps == config.DefaultApps && len(cfg.Roots) > 0 {
		if _, err := os.Stat(cfg.Apps); errors.Is(err, fs.ErrNotExist) {
			return ""
		}
	}
	return cfg.Apps
}
