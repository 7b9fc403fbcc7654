package chaos

import "sort"

// WebhookVerdict is what the delivery invariant found.
type WebhookVerdict struct {
	Checked bool `json:"checked"`
	// Events is how many outbox events of the experiment's merchants there are; Delivered
	// how many of them reached the receiver at least once, validly signed and accepted.
	Events    int `json:"events"`
	Delivered int `json:"delivered"`
	// Undelivered and BadSignatures must be 0.
	Undelivered   int `json:"undelivered"`
	BadSignatures int `json:"bad_signatures"`
	// Attempts is every delivery the receiver got (refused ones included); Redelivered the
	// events accepted more than once (delivery is at least once).
	Attempts    int `json:"attempts"`
	Redelivered int `json:"redelivered"`
	// OutOfOrder counts accepted deliveries of an object that arrived after one of a later
	// version: allowed, since every body carries the object's updated_at to reorder by;
	// Unversioned counts bodies without it (must be 0).
	OutOfOrder  int `json:"out_of_order"`
	Unversioned int `json:"unversioned"`
}

// checkDelivered: every event is delivered to its merchant's endpoint at least once, with
// a valid signature, in the order of the object's versions or with the version to reorder
// by (invariant 5).
func checkDelivered(e *Evidence, v *Verdict) {
	if e.Webhooks == nil {
		return
	}
	w := &v.Webhooks
	w.Checked, w.Events, w.Attempts = true, len(e.Events), len(e.Webhooks)
	accepted := map[string]int{}
	var ok []Delivery
	for _, d := range e.Webhooks {
		if !d.Valid {
			w.BadSignatures++
			v.violate(InvDelivered, "event %s arrived with a signature that does not verify", d.EventID)
			continue
		}
		if d.Accepted {
			accepted[d.EventID]++
			ok = append(ok, d)
			if d.UpdatedAt.IsZero() {
				w.Unversioned++
				v.violate(InvDelivered, "event %s carries no updated_at to order %s's events by", d.EventID, d.ObjectID)
			}
		}
	}
	for _, ev := range e.Events {
		if accepted[ev.ID] > 0 {
			w.Delivered++
			if accepted[ev.ID] > 1 {
				w.Redelivered++
			}
			continue
		}
		w.Undelivered++
		v.violate(InvDelivered, "event %s (%s of %s) was never delivered", ev.ID, ev.Type, ev.ObjectID)
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].At.Before(ok[j].At) })
	latest := map[string]Delivery{}
	for _, d := range ok {
		if l, seen := latest[d.ObjectID]; seen && d.UpdatedAt.Before(l.UpdatedAt) {
			w.OutOfOrder++
			continue
		}
		latest[d.ObjectID] = d
	}
}
