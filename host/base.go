package host

import (
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/fcgihost/fcgihost/registry"
)

// BasePath is the URL path an app is mounted at for this request (req.base
// in scripts, README.md "Request"): the request's path as dispatch sees it
// (SCRIPT_NAME + PATH_INFO, …) without appPath, the path within the app,
// and without a trailing slash; "" for an app at the root. When the path
// does not end with appPath (a front end that names the script by
// SCRIPT_FILENAME only), SCRIPT_NAME.
func BasePath(params map[string]string, appPath string) string {
	full, err := registry.RequestPath(params)
	if err != nil {
		return ""
	}
	if appPath == "/" {
		return strings.TrimSuffix(full, "/")
	}
	if base, ok := strings.CutSuffix(full, appPath); ok {
		return base
	}
	return strings.TrimSuffix(params["SCRIPT_NAME"], "/")
}

// folderRedirect answers a GET or HEAD of /NAME, a folder app reached by
// its name without the trailing slash, with a 301 to /NAME/ (as web
// servers do for directories), so that the app's relative links resolve
// inside it. It reports whether it answered.
func (h *Host) folderRedirect(x *Exchange, app *registry.App, appPath string) bool {
	if app.Kind != registry.KindFolder || appPath != "/" {
		return false
	}
	if m := x.Params["REQUEST_METHOD"]; m != "GET" && m != "HEAD" && m != "" {
		return false
	}
	full, err := registry.RequestPath(x.Params)
	if err != nil || strings.HasSuffix(full, "/") || path.Base(full) != app.Name {
		return false
	}
	uri, query, _ := strings.Cut(x.Params["REQUEST_URI"], "?")
	if uri == "" || strings.HasSuffix(uri, "/") || !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") {
		return false
	}
	loc := uri + "/"
	if query != "" {
		loc += "?" + query
	}
	hd := http.Header{}
	hd.Set("Location", loc)
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	body := "moved to " + loc + "\n"
	if x.Params["REQUEST_METHOD"] == "HEAD" {
		body = ""
	}
	if err := x.Sink.WriteHeader(http.StatusMovedPermanently, hd); err == nil && body != "" {
		x.Sink.Write([]byte(body))
	}
	return true
}

// fallback gives a request whose path found no app (err a 404) to the
// fallback app, if one is configured and exists, with the whole path as
// its path within the app: a front controller (docs/reference.md §2). Any
// other error, or no fallback, is returned as it is.
func (h *Host) fallback(params map[string]string, err error) (*registry.App, string, error) {
	var re *registry.ResolveError
	if h.Fallback == "" || !errors.As(err, &re) || re.Status != http.StatusNotFound {
		return nil, "", err
	}
	full, perr := registry.RequestPath(params)
	if perr != nil {
		return nil, "", err
	}
	a := h.Registry.App(h.Fallback)
	if a == nil {
		h.Logger.Warn("the fallback app does not exist", "fallback", h.Fallback, "uri", params["REQUEST_URI"])
		return nil, "", err
	}
	return a, full, nil
}
