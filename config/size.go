package config

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// sizeUnits are the units a size string may carry, lower-cased: SI units
// are powers of 1000, IEC units powers of 1024. Single letters ("8k",
// "64M") are refused as ambiguous.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
}

// formatUnits are the units FormatSize uses, largest first.
var formatUnits = []struct {
	name string
	n    int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3},
}

// ParseSize reads a size in bytes: "1048576", "512KiB", "64MiB", "1GiB",
// "100kB", "8MB", "1.5GiB", "64 MiB". Units are case-insensitive; kB, MB,
// GB, TB are powers of 1000, KiB, MiB, GiB, TiB powers of 1024. A fraction
// of a byte is dropped.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("bad size %q: must not be negative", s)
	}
	if num == "" || strings.Count(num, ".") > 1 || num == "." {
		return 0, fmt.Errorf("bad size %q: want a number of bytes, or a number and a unit like \"64MiB\"", s)
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("bad size %q: unknown unit %q (use B, kB, MB, GB, KiB, MiB, GiB)", s, unit)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("bad size %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("bad size %q: too large", s)
	}
	return n.Int64(), nil
}

// FormatSize renders n bytes with the largest unit that divides it
// exactly ("64MiB", "100kB"), or as a plain number of bytes ("1234").
// ParseSize reads the result back to n.
func FormatSize(n int64) string {
	if n != 0 {
		for _, u := range formatUnits {
			if n%u.n == 0 {
				return strconv.FormatInt(n/u.n, 10) + u.name
			}
		}
	}
	return strconv.FormatInt(n, 10)
}
