package js

import (
	"maps"
	"sort"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script"
)

// installAppEnv sets the global env of a handler-style script: the app's
// environment (config key env; README.md, "Per-app environment and
// secrets"), a frozen object of strings, the same for every request. A
// CGI-style script's env is the request's CGI environment with the app's
// environment laid over it (cgiEnv), as a web server's SetEnv adds to a
// CGI program's environment.
func (v *jsVM) installAppEnv() {
	if v.b.style != script.StyleHandler {
		return
	}
	rt := v.rt
	env := rt.NewObject()
	names := make([]string, 0, len(v.b.opts.Env))
	for name := range v.b.opts.Env {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		_ = env.Set(name, v.b.opts.Env[name])
	}
	if freeze, ok := goja.AssertFunction(rt.GlobalObject().Get("Object").ToObject(rt).Get("freeze")); ok {
		_, _ = freeze(goja.Undefined(), env)
	}
	_ = rt.GlobalObject().Set("env", env)
}

// cgiEnv is a CGI-style request's env: its params, the app's environment
// winning over a param of the same name (a client cannot override it).
func (v *jsVM) cgiEnv(params map[string]string) map[string]string {
	if len(v.b.opts.Env) == 0 {
		return params
	}
	m := maps.Clone(params)
	maps.Copy(m, v.b.opts.Env)
	return m
}
