package risk

import (
	"time"

	"github.com/paycenter/paycenter/core"
)

// DryRun counts the payments (oldest first) that prog would have matched, each seen as it
// was when it was made: its own stored risk score, list membership as the lists are now
// (lists, by list name: the values on it), and velocity counters over the payments given
// before it. Counters of the earliest payments see only the history given, so a window
// reaching before the first payment counts less than the live counter did.
func DryRun(prog *Program, payments []*core.Payment, lists map[string]map[string]bool) DryRunResult {
	res := DryRunResult{Object: "risk_rule_test", Matches: []string{}}
	type entry struct {
		at     time.Time
		amount int64
	}
	windows := make([]map[string][]entry, len(prog.Velocities))
	for i := range windows {
		windows[i] = map[string][]entry{}
	}
	for _, p := range payments {
		env := EnvOf(p)
		if p.Risk != nil {
			env.RiskScore = p.Risk.Score
		}
		facts := Facts{Lists: lists, Velocities: map[VelocityRef]Velocity{}}
		for i, ref := range prog.Velocities {
			v := VelocityValue(env, ref.Key)
			if v == "" {
				continue
			}
			k := p.MerchantID + "\x00" + v
			q := windows[i][k]
			for len(q) > 0 && !q[0].at.After(p.CreatedAt.Add(-ref.Window)) {
				q = q[1:]
			}
			q = append(q, entry{p.CreatedAt, p.Amount})
			windows[i][k] = q
			var vel Velocity
			for _, e := range q {
				vel.Count++
				vel.Amount += e.amount
			}
			facts.Velocities[ref] = vel
		}
		res.Evaluated++
		if ok, err := prog.Match(Bind(env, facts)); err == nil && ok {
			res.Matched++
			res.Matches = append(res.Matches, p.ID)
		}
	}
	// Newest first, at most 20.
	for i, j := 0, len(res.Matches)-1; i < j; i, j = i+1, j-1 {
		res.Matches[i], res.Matches[j] = res.Matches[j], res.Matches[i]
	}
	if len(res.Matches) > 20 {
		res.Matches = res.Matches[:20]
	}
	return res
}
