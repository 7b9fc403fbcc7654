package console

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/paycenter/paycenter/core"
)

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func init() {
	// fields shows a detail map as "key: value; ..." in key order.
	funcs["fields"] = func(m map[string]any) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+factValue(m[k]))
		}
		return strings.Join(parts, "; ")
	}
	// moneyp formats an optional amount; nil (the side that lacks a line) is a dash.
	funcs["moneyp"] = func(v *int64, currency string) string {
		if v == nil {
			return "—"
		}
		return core.FormatAmount(*v, currency)
	}
}
