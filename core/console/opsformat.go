package console

import (
	"encoding/json"
	"strconv"

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
	// moneyp formats an optional amount; nil (the side that lacks a line) is a dash.
	funcs["moneyp"] = func(v *int64, currency string) string {
		if v == nil {
			return "—"
		}
		return core.FormatAmount(*v, currency)
	}
}
