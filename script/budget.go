package script

// This file holds the budget for turning input text into script values:
// a request body (req.json, req.form, req.files), the query string, the
// Cookie header, and text a script hands to JSON.parse / json.decode. A
// parser builds many small script values from few bytes ("[{},{},…]" is
// three bytes a value, and an empty goja array costs ~600 bytes), so an
// 8 MiB body could become gigabytes inside one native call that no
// interrupt reaches. Before any parse, a scan counts what the text would
// make, in O(n) and without allocating; each engine prices the counts
// with what its values cost (measured, see ValueCost), and a text whose
// values would take more than half the app's memory_limit, or nest
// deeper than MaxDepth, is refused before anything is built. See docs/sandbox.md,
// "Request-body budgets".

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/fcgihost/fcgihost/sandbox"
)

// MaxJSONDepth is the deepest nesting of arrays and objects any JSON parse
// accepts (encoding/json's own limit).
const MaxJSONDepth = 10000

// ErrTooManyValues marks request input (body, query, cookies) that would
// make more script values than the budget holds; uncaught, it
// answers 413.
var ErrTooManyValues = errors.New("request input has too many values")

// ValueCost is what one engine's values cost in bytes, measured with
// runtime.ReadMemStats around a parse of each shape (see the engines'
// TestValueCost). Each count of JSONStats is priced with its own field.
type ValueCost struct {
	Object int64 // an empty object / table
	Array  int64 // an empty array / table
	Member int64 // one object member (key string and slot), beyond its value
	Filled int64 // more for an object with members (the first member's map)
	Scalar int64 // a number, string, true, false or null (an element or a member's value)
	Byte   int64 // one byte of string content
	// Field is one form field, query parameter or cookie: the Go strings
	// and map entry of the parse plus the engine's key and value.
	Field int64
}

// JSONStats counts what a JSON text would make. The counts are exact for
// valid JSON; for malformed text they are whatever the scan saw (the parse
// then fails anyway).
type JSONStats struct {
	Objects, Arrays, Members, Scalars int64
	Filled                            int64 // objects with at least one member
	StringBytes                       int64 // bytes inside string literals, keys included
	Depth                             int   // deepest nesting seen (stops at MaxDepth+1)
}

// Values is the number of values the text holds, object keys included.
func (s JSONStats) Values() int64 { return s.Objects + s.Arrays + 2*s.Members + s.Scalars }

// ScanJSON counts the values of a JSON text in one pass without
// allocating. It stops early, with Depth = maxDepth+1, when the nesting
// passes maxDepth.
func ScanJSON[T string | []byte](text T, maxDepth int) JSONStats {
	var st JSONStats
	depth := 0
	inScalar := false
	opened := false // the last token was '{': a key now fills an object
	// No stack of container kinds is needed: a member is counted by its
	// key (a string followed by ':'), an element by the value that
	// starts it.
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '"':
			inScalar = false
			wasOpened := opened
			opened = false
			j := i + 1
			for j < len(text) && text[j] != '"' {
				if text[j] == '\\' {
					j++
				}
				j++
			}
			n := int64(j - i - 1)
			if n < 0 {
				n = 0
			}
			st.StringBytes += n
			// A key is followed by ':' (after optional space); it is
			// counted with its member, not as a scalar.
			k := j + 1
			for k < len(text) && isJSONSpace(text[k]) {
				k++
			}
			if k < len(text) && text[k] == ':' {
				st.Members++
				if wasOpened {
					st.Filled++
				}
				i = k
			} else {
				st.Scalars++
				i = j
			}
		case '{', '[':
			inScalar = false
			opened = c == '{'
			if c == '{' {
				st.Objects++
			} else {
				st.Arrays++
			}
			depth++
			if depth > st.Depth {
				st.Depth = depth
			}
			if depth > maxDepth {
				return st
			}
		case '}', ']':
			inScalar, opened = false, false
			depth--
		case ' ', '\t', '\n', '\r':
			inScalar = false
		case ',', ':':
			inScalar, opened = false, false
		default:
			opened = false
			if !inScalar {
				st.Scalars++
				inScalar = true
			}
		}
	}
	return st
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// Budget bounds the values one parse may make: their estimated size (by
// the engine's ValueCost) may not pass Memory, nor their nesting MaxDepth.
type Budget struct {
	Memory   int64 // bytes: the app's memory_limit
	MaxDepth int
	Cost     ValueCost
}

// NewBudget is the budget of an app with limits lim in an engine whose
// values cost cost: half the app's memory_limit. The other half is the
// script's own (and the parse's passing garbage), so that input the budget
// lets through does not by itself make the memory watchdog stop the
// request.
func NewBudget(lim sandbox.Limits, cost ValueCost) Budget {
	return Budget{Memory: lim.WithDefaults().MemoryLimit / 2, MaxDepth: MaxJSONDepth, Cost: cost}
}

// Estimate is the memory the values counted by s would take.
func (b Budget) Estimate(s JSONStats) int64 {
	c := b.Cost
	return sat(s.Objects, c.Object) + sat(s.Arrays, c.Array) + sat(s.Members, c.Member) + sat(s.Filled, c.Filled) +
		sat(s.Scalars, c.Scalar) + sat(s.StringBytes, c.Byte)
}

func sat(n, c int64) int64 {
	if n > 0 && c > 0 && n > (1<<62)/c {
		return 1 << 62
	}
	return n * c
}

// ValuesError is a parse refused by its Budget.
type ValuesError struct {
	// What is the input: "request body", "request query", "JSON.parse"…
	What string
	// Kind names the values: "JSON values", "form fields"…
	Kind string
	// N is how many values the input holds; Limit how many of that mix
	// fit in the budget; Estimate their size in bytes; Memory the budget.
	N, Limit, Estimate, Memory int64
	// Request is set for input from the client (413 unless caught); a
	// text the script made wraps sandbox.ErrTooLarge instead.
	Request bool
}

func (e *ValuesError) Error() string {
	return fmt.Sprintf("%s has too many %s: %d > limit %d (about %s as script values; at most %s, half the app's memory_limit, may be built from one input)",
		e.What, e.Kind, e.N, e.Limit, mib(e.Estimate), mib(e.Memory))
}

func (e *ValuesError) Unwrap() error {
	if e.Request {
		return ErrTooManyValues
	}
	return sandbox.ErrTooLarge
}

func mib(n int64) string {
	if n >= 10<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// DepthError is a JSON text nested deeper than the Budget allows.
type DepthError struct {
	What    string
	Max     int
	Request bool // from the client: 400 unless caught
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("%s is nested more than %d levels deep", e.What, e.Max)
}

func (e *DepthError) Unwrap() error {
	if e.Request {
		return ErrBadRequest
	}
	return sandbox.ErrTooLarge
}

func (b Budget) refuse(what, kind string, n, est int64, request bool) error {
	limit := n
	if est > 0 {
		limit = int64(float64(n) * float64(b.Memory) / float64(est))
	}
	return &ValuesError{What: what, Kind: kind, N: n, Limit: limit, Estimate: est, Memory: b.Memory, Request: request}
}

// CheckJSON scans text and refuses it (a *ValuesError or *DepthError)
// when its values would pass the budget. what names the input in the
// error; request says whether it came from the client.
func CheckJSON[T string | []byte](b Budget, what string, text T, request bool) error {
	maxDepth := b.MaxDepth
	if maxDepth <= 0 {
		maxDepth = MaxJSONDepth
	}
	st := ScanJSON(text, maxDepth)
	if st.Depth > maxDepth {
		return &DepthError{What: what, Max: maxDepth, Request: request}
	}
	if est := b.Estimate(st); est > b.Memory {
		return b.refuse(what, "JSON values", st.Values(), est, request)
	}
	return nil
}

// checkFields refuses n fields (query parameters, form fields, cookies)
// plus extra bytes of content when they would pass the budget.
func (b Budget) checkFields(what, kind string, n, content int64) error {
	est := sat(n, b.Cost.Field) + sat(content, b.Cost.Byte)
	if est > b.Memory {
		return b.refuse(what, kind, n, est, true)
	}
	return nil
}

// CountQuery is the number of parameters a query string holds (as
// QueryParts sees them).
func CountQuery(raw string) int64 {
	n := int64(0)
	QueryParts(raw, func(string, string) bool { n++; return true })
	return n
}

// CheckQuery refuses a query string with more parameters than the budget
// holds (a *ValuesError wrapping ErrTooManyValues).
func (b Budget) CheckQuery(raw string) error {
	return b.checkFields("request query", "parameters", CountQuery(raw), int64(len(raw)))
}

// CheckCookies refuses a Cookie header with more cookies than the budget
// holds.
func (b Budget) CheckCookies(header string) error {
	n := int64(strings.Count(header, ";")) + 1
	if header == "" {
		n = 0
	}
	return b.checkFields("request Cookie header", "cookies", n, int64(len(header)))
}

// CheckForm refuses an urlencoded or multipart body with more fields (or
// parts) than the budget holds. The count is an upper bound found without
// parsing: the '&'-separated parts of an urlencoded body, the boundary
// lines of a multipart one.
func (b Budget) CheckForm(r *Request) error {
	mt, params, _ := mime.ParseMediaType(r.Params["CONTENT_TYPE"])
	var n int64
	switch strings.ToLower(mt) {
	case "application/x-www-form-urlencoded":
		n = CountQuery(string(r.Body))
	case "multipart/form-data":
		if bd := params["boundary"]; bd != "" {
			n = int64(bytes.Count(r.Body, []byte("--"+bd)))
		}
	default:
		return nil
	}
	return b.checkFields("request body", "form fields", n, int64(len(r.Body)))
}
