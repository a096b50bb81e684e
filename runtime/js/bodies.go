package js

// This file applies the request-body budget (script.Budget, see
// docs/sandbox.md, "Request-body budgets") to every way text becomes
// script values in this engine: JSON.parse (whatever the text), req.json(),
// a fetch response's json(), req.form(), req.files(), req.query,
// req.queryAll and req.cookies. goja's JSON.parse builds the whole value
// inside one native call that no interrupt reaches, at up to ~600 bytes a
// value ("[[],[],…]"), so the text is priced first, in O(n) without
// allocating, and refused when its values would take more than the app's
// memory_limit (script.NewBudget) or nest deeper than
// script.MaxJSONDepth.

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script"
)

// jsCost is what goja values cost, in bytes, as TestValueCost measures
// them (amd64, go1.26, this goja), rounded up: an empty object ~200, an
// empty array ~590 (goja's array object is large), a member ~70 in a big
// object and ~290 for an object's first (its property map), a number ~35
// and a short string ~50 in its slot; strings may be UTF-16, two bytes a byte.
// Field prices one form field, file, query parameter or cookie: Go's parse
// plus the JS property (a file adds its object and Uint8Array).
var jsCost = script.ValueCost{Object: 224, Array: 640, Member: 96, Filled: 256, Scalar: 56, Byte: 2, Field: 2048}

// budget is the VM's value budget (half of memory_limit, priced with
// jsCost).
func (v *jsVM) budget() script.Budget { return script.NewBudget(v.b.opts.Limits, jsCost) }

// installJSONBudget replaces JSON.parse with one that prices its text
// first. The original stays in v.api.jsonParse for the engine's own calls,
// which check the budget themselves (parseJSON).
func (v *jsVM) installJSONBudget() {
	jsonObj := v.rt.Get("JSON").(*goja.Object)
	orig := jsonObj.Get("parse")
	v.replace(jsonObj, "parse", orig, func(c goja.FunctionCall) goja.Value {
		// The text is converted once (an object's toString runs once, as
		// in the original) and handed on as a string.
		tv := c.Argument(0).ToString()
		text := tv.String()
		what, fromClient := "JSON.parse", false
		if x := v.cur; x != nil && len(text) == len(x.req.Body) && len(text) > 0 && text == string(x.req.Body) {
			// JSON.parse(req.body): the client's input, refused as
			// req.json() refuses it.
			what, fromClient = "request body", true
		}
		if err := script.CheckJSON(v.budget(), what, text, fromClient); err != nil {
			v.throwBudget("JSON.parse", err)
		}
		return v.call(v.api.jsonParse, goja.Undefined(), tv, c.Argument(1))
	})
}

// throwBudget throws a refusal of the budget: a RangeError naming the
// limit (a SyntaxError when too deep), which wraps the Go error so that,
// uncaught, it answers 413 (the client's input) or 500 (the script's).
func (v *jsVM) throwBudget(what string, err error) {
	name := "RangeError"
	if _, deep := err.(*script.DepthError); deep {
		name = "SyntaxError"
	}
	v.throw(name, fmt.Errorf("%s: %w", what, err))
}

// parseJSON is the engine's own JSON.parse of text under the budget;
// caller prefixes errors ("req.json"), label names the text in them
// ("request body"), fromClient says it is the client's input: a text it
// cannot parse then throws a SyntaxError wrapping script.ErrBadRequest.
func (v *jsVM) parseJSON(caller, label string, text []byte, fromClient bool) goja.Value {
	if err := script.CheckJSON(v.budget(), label, text, fromClient); err != nil {
		v.throwBudget(caller, err)
	}
	var out goja.Value
	if v.catch(func() { out = v.call(v.api.jsonParse, goja.Undefined(), v.utf8(text)) }) == nil {
		return out
	}
	if !fromClient {
		v.throw("SyntaxError", fmt.Errorf("%s: %s is not JSON", caller, label))
	}
	// The canonical message, found without building values.
	var raw json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(text))
	err := dec.Decode(&raw)
	switch {
	case err != nil:
		err = fmt.Errorf("request body is not JSON: %v: %w", err, script.ErrBadRequest)
	case dec.More():
		err = fmt.Errorf("request body has data after the JSON value: %w", script.ErrBadRequest)
	default:
		err = fmt.Errorf("request body is not JSON: %w", script.ErrBadRequest)
	}
	v.throw("SyntaxError", fmt.Errorf("%s: %w", caller, err))
	return nil
}

// checkFields throws when the query, the cookies or the form of the
// request would pass the budget.
func (v *jsVM) checkFields(what string, err error) {
	if err != nil {
		v.throwBudget(what, err)
	}
}
