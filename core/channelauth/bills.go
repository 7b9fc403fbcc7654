package channelauth

import (
	"time"

	"github.com/paycenter/paycenter/core"
)

// ChinaStandardTime is the zone of WeChat Pay's and Alipay's timestamps and bill days (UTC+8,
// no daylight saving).
var ChinaStandardTime = time.FixedZone("CST", 8*60*60)

// UTCDayFromChinaBills is the statement of a UTC day from a channel that keeps its bills by
// China Standard Time day: the UTC day spans two CST days, so it takes both days' bills
// (bill, by date YYYY-MM-DD) and keeps the lines whose time falls within the UTC day.
func UTCDayFromChinaBills(day time.Time, bill func(date string) ([]core.StatementLine, error)) ([]core.StatementLine, error) {
	u := day.UTC()
	from := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 1)
	var out []core.StatementLine
	for _, d := range []time.Time{from.In(ChinaStandardTime), to.Add(-time.Second).In(ChinaStandardTime)} {
		lines, err := bill(d.Format(time.DateOnly))
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			if !l.At.Before(from) && l.At.Before(to) {
				out = append(out, l)
			}
		}
	}
	return out, nil
}
