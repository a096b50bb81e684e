package watch

import (
	"path/filepath"
	"strings"
)

// skipped reports whether a base name is an editor's temporary file or a
// version-control directory, never watched nor reported.
func skipped(base string) bool {
	switch base {
	case "4913", ".git", ".hg", ".svn": // 4913: vim's can-I-write-here probe
		return true
	}
	switch filepath.Ext(base) {
	case ".swp", ".swo", ".swn", ".swx": // vim swap files
		return true
	}
	return strings.HasSuffix(base, "~") || // vim, emacs backups
		strings.HasPrefix(base, ".#") || // emacs lock files
		(len(base) > 1 && strings.HasPrefix(base, "#") && strings.HasSuffix(base, "#")) || // emacs autosave
		strings.HasSuffix(base, "___jb_tmp___") || strings.HasSuffix(base, "___jb_old___") // JetBrains safe write
}

// keep reports whether path is watched and reported. Options.Filter
// chooses among files; directories are always kept unless skipped.
func (l *loop) keep(path string, isDir bool) bool {
	if skipped(filepath.Base(path)) {
		return false
	}
	return isDir || l.opts.Filter == nil || l.opts.Filter(path)
}
