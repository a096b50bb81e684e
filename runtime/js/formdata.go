package js

// Request/Response formData() and blob(), and Blob/FormData bodies
// (README.md "Coming from Workers / Node"). Blob, File and FormData
// themselves are web.js classes (lazy web globals, web.go); this file
// parses a form body into a FormData and turns Blob/FormData bodies into
// bytes through web.js's bodyInit.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/dop251/goja"

	"github.com/fcgihost/fcgihost/script"
)

// formEntry is one field of a parsed form body; file is nil for a text
// field.
type formEntry struct {
	name, value string
	file        *script.File
}

// errNotForm is formData()'s error for a body of another type.
var errNotForm = errors.New("the body is not application/x-www-form-urlencoded or multipart/form-data")

// parseFormEntries parses an urlencoded or multipart body, keeping every
// entry in order, at most maxFormEntries of them.
func parseFormEntries(ctype string, body []byte) ([]formEntry, error) {
	mt, params, _ := mime.ParseMediaType(ctype)
	var out []formEntry
	tooMany := fmt.Errorf("more than %d form entries", maxFormEntries)
	switch strings.ToLower(mt) {
	case "application/x-www-form-urlencoded":
		var err error
		script.QueryParts(string(body), func(k, v string) bool {
			if len(out) >= maxFormEntries {
				err = tooMany
				return false
			}
			out = append(out, formEntry{name: script.QueryUnescape(k), value: script.QueryUnescape(v)})
			return true
		})
		return out, err
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return nil, errors.New("multipart body without boundary")
		}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return nil, fmt.Errorf("multipart body: %v", err)
			}
			if len(out) >= maxFormEntries {
				return nil, tooMany
			}
			data, err := io.ReadAll(p) // at most the body's size
			if err != nil {
				return nil, fmt.Errorf("multipart body: %v", err)
			}
			e := formEntry{name: p.FormName()}
			_, disp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			if _, isFile := disp["filename"]; isFile {
				fn := p.FileName()
				ct := p.Header.Get("Content-Type")
				if ct == "" {
					ct = "application/octet-stream"
				}
				e.file = &script.File{Filename: fn, Type: ct, Data: data}
			} else {
				e.value = string(data)
			}
			out = append(out, e)
		}
	}
	return nil, errNotForm
}

// newFormData makes a FormData of entries (web.js's class).
func (v *jsVM) newFormData(entries []formEntry) goja.Value {
	rt := v.rt
	ctor, _ := v.webExport("FormData").(*goja.Object)
	fileCtor := v.webExport("File")
	fd, err := rt.New(ctor)
	if err != nil {
		panic(err)
	}
	add, _ := goja.AssertFunction(fd.Get("append"))
	for _, e := range entries {
		val := rt.ToValue(e.value)
		if e.file != nil {
			opts := rt.NewObject()
			_ = opts.Set("type", e.file.Type)
			f, err := rt.New(fileCtor, rt.NewArray(v.newUint8Array(e.file.Data)), rt.ToValue(e.file.Filename), opts)
			if err != nil {
				panic(err)
			}
			val = f
		}
		if _, err := add(fd, rt.ToValue(e.name), val); err != nil {
			panic(err)
		}
	}
	return fd
}

// formDataOf is formData() of a body with content type ctype; fromClient
// is the incoming request, whose fields are counted against the request-
// body budget first (docs/sandbox.md), as req.form() does.
func (v *jsVM) formDataOf(ctype string, data []byte, fromClient bool) goja.Value {
	if fromClient {
		r := &script.Request{Params: map[string]string{"CONTENT_TYPE": ctype}, Body: data}
		if err := v.budget().CheckForm(r); err != nil {
			v.throwBudget("formData()", err)
		}
	}
	entries, err := parseFormEntries(ctype, data)
	if err != nil {
		if fromClient && !errors.Is(err, errNotForm) {
			panic(v.errorObject("TypeError", fmt.Errorf("formData(): %v: %w", err, script.ErrBadRequest)))
		}
		v.typeError("formData(): %v", err)
	}
	return v.newFormData(entries)
}

// blobOrFormBody converts a Blob, File or FormData body to bytes and its
// content type; ok is false for other values.
func (v *jsVM) blobOrFormBody(o *goja.Object) (data []byte, ctype string, ok bool) {
	tag := o.GetSymbol(goja.SymToStringTag)
	if tag == nil {
		return nil, "", false
	}
	switch tag.String() {
	case "Blob", "File", "FormData":
	default:
		return nil, "", false
	}
	fn, _ := goja.AssertFunction(v.webExport("bodyInit"))
	r, err := fn(goja.Undefined(), o)
	if err != nil {
		panic(err)
	}
	ro, isObj := r.(*goja.Object)
	if !isObj {
		return nil, "", false
	}
	b, _ := bytesOf(ro.Get("0").ToObject(v.rt))
	return append([]byte(nil), b...), ro.Get("1").String(), true
}

// newBlobOf makes the Blob of a body (blob()).
func (v *jsVM) newBlobOf(data []byte, ctype string) goja.Value {
	fn, _ := goja.AssertFunction(v.webExport("newBlobOf"))
	b, err := fn(goja.Undefined(), v.newUint8Array(append([]byte(nil), data...)), v.rt.ToValue(ctype))
	if err != nil {
		panic(err)
	}
	return b
}
