package lua

// This file replaces the string and table built-ins that can allocate
// without bound in one native call: string.rep, string.format and
// table.concat check the size of their result before building it.

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

func (v *vm) now() time.Time {
	if v.b.opts.Now != nil {
		return v.b.opts.Now()
	}
	return time.Now()
}

func (v *vm) checkSize(what string, n float64) {
	if n > float64(math.MaxInt64/2) {
		n = float64(math.MaxInt64 / 2)
	}
	if err := v.b.opts.Limits.CheckSize(what, int64(n)); err != nil {
		v.fail(err)
	}
}

// strRep is string.rep(s, n), bounded by Limits.MaxStringSize.
func (v *vm) strRep(L *glua.LState) int {
	s := L.CheckString(1)
	n := float64(L.CheckNumber(2))
	if n <= 0 || len(s) == 0 {
		L.Push(glua.LString(""))
		return 1
	}
	v.checkSize("string.rep", float64(len(s))*math.Floor(n))
	L.Push(glua.LString(strings.Repeat(s, int(n))))
	return 1
}

// tableConcat is table.concat(t[, sep[, i[, j]]]), its size checked
// before it is built.
func (v *vm) tableConcat(L *glua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	if i > j {
		L.Push(glua.LString(""))
		return 1
	}
	size := 0.0
	for k := i; k <= j; k++ {
		switch val := t.RawGetInt(k).(type) {
		case glua.LString:
			size += float64(len(val))
		case glua.LNumber:
			size += float64(len(val.String()))
		default:
			L.RaiseError("invalid value (at index %d) in table for 'concat'", k)
		}
		if k < j {
			size += float64(len(sep))
		}
		if size > float64(v.b.opts.Limits.MaxStringSize) {
			v.checkSize("table.concat", size)
		}
	}
	var b strings.Builder
	b.Grow(int(size))
	for k := i; k <= j; k++ {
		b.WriteString(glua.LVAsString(t.RawGetInt(k)))
		if k < j {
			b.WriteString(sep)
		}
	}
	L.Push(glua.LString(b.String()))
	return 1
}

// strFormat is string.format with C Lua's rules: flags "-+ #0", a width
// and a precision of at most two digits each, conversions
// c d i o u x X e E f g G q s and %%. %s takes any value through tostring.
func (v *vm) strFormat(L *glua.LState) int {
	fmtStr := L.CheckString(1)
	limit := v.b.opts.Limits.MaxStringSize
	arg := 1
	var b strings.Builder
	for i := 0; i < len(fmtStr); i++ {
		c := fmtStr[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(fmtStr) {
			L.RaiseError("invalid option '%%' to 'format' (ends with '%%')")
		}
		if fmtStr[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// Scan the spec: flags, width, precision (two digits at most).
		start := i
		for i < len(fmtStr) && strings.IndexByte("-+ #0", fmtStr[i]) >= 0 {
			i++
		}
		if i-start > 5 {
			L.RaiseError("invalid format (repeated flags)")
		}
		flags := fmtStr[start:i]
		width, prec := 0, -1
		digits := func() int {
			n, k := 0, 0
			for i < len(fmtStr) && '0' <= fmtStr[i] && fmtStr[i] <= '9' {
				if k == 2 {
					L.RaiseError("invalid format (width or precision too long)")
				}
				n = n*10 + int(fmtStr[i]-'0')
				i++
				k++
			}
			return n
		}
		width = digits()
		if i < len(fmtStr) && fmtStr[i] == '.' {
			i++
			prec = digits()
		}
		if i >= len(fmtStr) {
			L.RaiseError("invalid option '%%' to 'format'")
		}
		conv := fmtStr[i]
		arg++
		spec := "%" + flags
		if width > 0 {
			spec += strconv.Itoa(width)
		}
		if prec >= 0 {
			spec += "." + strconv.Itoa(prec)
		}
		switch conv {
		case 'd', 'i':
			n := formatNumber(L, arg)
			b.WriteString(fmt.Sprintf(spec+"d", int64(n)))
		case 'u':
			n := formatNumber(L, arg)
			b.WriteString(fmt.Sprintf(spec+"d", uint64(int64(n))))
		case 'o', 'x', 'X':
			n := formatNumber(L, arg)
			b.WriteString(fmt.Sprintf(spec+string(conv), uint64(int64(n))))
		case 'e', 'E', 'f', 'g', 'G':
			n := formatNumber(L, arg)
			if prec < 0 && (conv == 'g' || conv == 'G') {
				spec += ".6"
			}
			b.WriteString(fmt.Sprintf(spec+string(conv), n))
		case 'c':
			ch := string([]byte{byte(int64(formatNumber(L, arg)))})
			b.WriteString(pad(ch, width, strings.Contains(flags, "-")))
		case 's':
			if arg > L.GetTop() {
				L.ArgError(arg, "no value")
			}
			s := L.ToStringMeta(L.Get(arg)).String()
			if prec >= 0 && len(s) > prec {
				s = s[:prec]
			}
			b.WriteString(pad(s, width, strings.Contains(flags, "-")))
		case 'q':
			s := checkText(L, arg)
			b.WriteByte('"')
			for k := 0; k < len(s); k++ {
				switch ch := s[k]; ch {
				case '"', '\\':
					b.WriteByte('\\')
					b.WriteByte(ch)
				case '\n':
					b.WriteString("\\\n")
				case '\r':
					b.WriteString("\\r")
				case 0:
					b.WriteString("\\000")
				default:
					b.WriteByte(ch)
				}
			}
			b.WriteByte('"')
		default:
			L.RaiseError("invalid option '%%%c' to 'format'", conv)
		}
		if int64(b.Len()) > limit {
			v.checkSize("string.format", float64(b.Len()))
		}
	}
	L.Push(glua.LString(b.String()))
	return 1
}

// formatNumber is luaL_checknumber for format: numbers and numeric strings.
func formatNumber(L *glua.LState, n int) float64 {
	switch val := L.Get(n).(type) {
	case glua.LNumber:
		return float64(val)
	case glua.LString:
		if f, err := strconv.ParseFloat(strings.TrimSpace(string(val)), 64); err == nil {
			return f
		}
		if i, err := strconv.ParseInt(strings.TrimSpace(string(val)), 0, 64); err == nil {
			return float64(i)
		}
	}
	L.ArgError(n, "number expected, got "+L.Get(n).Type().String())
	return 0
}

// pad pads s with spaces to width bytes (left-justified when left).
func pad(s string, width int, left bool) string {
	if len(s) >= width {
		return s
	}
	sp := strings.Repeat(" ", width-len(s))
	if left {
		return s + sp
	}
	return sp + s
}
