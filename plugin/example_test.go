package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing/fstest"

	"github.com/fcgihost/fcgihost/plugin"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Load two plugins, one in each language, and call a function of each.
func Example() {
	apps := fstest.MapFS{
		"shout.js":  {Data: []byte(`exports.transform = (s) => s.toUpperCase() + "!";`)},
		"rev.lua":   {Data: []byte(`return {transform = function (s) return s:reverse() end}`)},
		"README.md": {Data: []byte(`not an app`)},
	}
	h, err := plugin.New(plugin.Options{FS: apps, Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer h.Close(context.Background())
	for _, app := range h.Apps() {
		out, err := h.Call(context.Background(), app, "transform", "hello")
		fmt.Println(app, out, err)
	}
	// Output:
	// rev olleh <nil>
	// shout HELLO! <nil>
}

// CallAs converts the result to a Go type: here a struct, through its
// JSON field names.
func ExampleCallAs() {
	apps := fstest.MapFS{
		"price.lua": {Data: []byte(`return {quote = function (item, qty)
  return {item = item, total = qty * 2.5, free_shipping = qty >= 10}
end}`)},
	}
	h, _ := plugin.New(plugin.Options{FS: apps, Logger: quiet})
	defer h.Close(context.Background())
	type Quote struct {
		Item         string  `json:"item"`
		Total        float64 `json:"total"`
		FreeShipping bool    `json:"free_shipping"`
	}
	q, err := plugin.CallAs[Quote](context.Background(), h, "price", "quote", "pen", 12)
	fmt.Printf("%+v %v\n", q, err)
	// Output:
	// {Item:pen Total:30 FreeShipping:true} <nil>
}

// A Go module: declared once, required by both languages with the same
// shape. The Go function sees the calling app and the call's context.
func ExampleModule() {
	users := &plugin.Module{
		Name:   "users",
		Values: map[string]any{"admin": "root"},
		Funcs: []plugin.Func{{
			Name: "lookup",
			Args: []plugin.Arg{{Name: "id", Type: plugin.Int}},
			Fn: func(ctx context.Context, c *plugin.CallInfo) (any, error) {
				if c.Args[0].(int64) != 1 {
					return nil, errors.New("no such user")
				}
				return map[string]any{"name": "ada", "asked_by": c.App}, nil
			},
		}},
	}
	apps := fstest.MapFS{
		"greet.js": {Data: []byte(`import {lookup, admin} from "host:users";
export function greet(id) { return "hello " + lookup(id).name + " (asked by " + lookup(id).asked_by + ", admin " + admin + ")"; }`)},
		"greetl.lua": {Data: []byte(`local users = require("host.users")
return {greet = function (id)
  local ok, err = pcall(users.lookup, id)
  if not ok then return "failed: " .. err end
  return "hello " .. err.name .. " (asked by " .. err.asked_by .. ")"
end}`)},
	}
	h, err := plugin.New(plugin.Options{FS: apps, Modules: []*plugin.Module{users}, Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer h.Close(context.Background())
	for _, c := range []struct {
		app string
		id  int
	}{{"greet", 1}, {"greetl", 1}, {"greetl", 2}} {
		out, err := h.Call(context.Background(), c.app, "greet", c.id)
		if s, ok := out.(string); ok && strings.Contains(s, ": ") {
			out = s[:strings.Index(s, ": ")+2] + s[strings.LastIndex(s, ": ")+2:] // drop the file:line
		}
		fmt.Println(out, err)
	}
	// Output:
	// hello ada (asked by greet, admin root) <nil>
	// hello ada (asked by greetl) <nil>
	// failed: no such user <nil>
}

// Broadcast calls every app that exports the event function.
func ExampleHost_Broadcast() {
	apps := fstest.MapFS{
		"audit.js":  {Data: []byte(`exports.onSave = (doc) => "audit: logged " + doc.id;`)},
		"spam.lua":  {Data: []byte(`return {onSave = function (doc) if doc.body:find("buy now") then error("spam") end return "spam: ok" end}`)},
		"other.lua": {Data: []byte(`return {somethingElse = function () end}`)},
	}
	h, _ := plugin.New(plugin.Options{FS: apps, Logger: quiet})
	defer h.Close(context.Background())
	doc := map[string]any{"id": 7, "body": "buy now!"}
	for _, r := range h.Broadcast(context.Background(), "onSave", plugin.BroadcastOptions{Concurrent: true}, doc) {
		var se *plugin.ScriptError
		if errors.As(r.Err, &se) {
			fmt.Println(r.App, "failed at line", se.Line)
			continue
		}
		fmt.Println(r.App, r.Value)
	}
	// Output:
	// audit audit: logged 7
	// spam failed at line 1
}

// A script's error is a *ScriptError with the file and line where it was
// thrown.
func ExampleScriptError() {
	apps := fstest.MapFS{
		"calc.js": {Data: []byte("exports.div = (a, b) => {\n  if (b === 0) throw new RangeError(\"division by zero\");\n  return a / b;\n};\n")},
	}
	h, _ := plugin.New(plugin.Options{FS: apps, Logger: quiet})
	defer h.Close(context.Background())
	_, err := h.Call(context.Background(), "calc", "div", 1, 0)
	var se *plugin.ScriptError
	if errors.As(err, &se) {
		fmt.Println(se.Line, se.Err)
	}
	_, err = h.Call(context.Background(), "calc", "mul", 1, 0)
	fmt.Println(errors.Is(err, plugin.ErrNoFunction))
	_, err = h.Call(context.Background(), "nope", "div", 1, 0)
	fmt.Println(errors.Is(err, plugin.ErrNoApp))
	// Output:
	// 2 RangeError: division by zero
	// true
	// true
}
