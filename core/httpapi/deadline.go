package httpapi

import (
	"io"
	"net/http"
	"time"
)

// BodyTimeouts bound the time a request body may take to arrive. Without them a client
// trickling a body a few bytes a second holds a connection (and a goroutine, and on a node
// a merchant's rate allowance) for as long as it likes: ReadHeaderTimeout covers only the
// headers, and ReadTimeout cannot be used, because net/http cancels the request's context
// when it expires while the handler is still at work (in a channel call, say).
type BodyTimeouts struct {
	// Grace is how long the body may take regardless of its size. Default 5s.
	Grace time.Duration
	// MinRate, in bytes a second, is the slowest a body may arrive beyond Grace: a body of n
	// bytes has Grace + n/MinRate. Default 4 KiB/s.
	MinRate int64
	// Max bounds any body's time, however fast it arrives. Default 60s.
	Max time.Duration
}

func (t BodyTimeouts) withDefaults() BodyTimeouts {
	if t.Grace == 0 {
		t.Grace = 5 * time.Second
	}
	if t.MinRate == 0 {
		t.MinRate = 4 << 10
	}
	if t.Max == 0 {
		t.Max = 60 * time.Second
	}
	return t
}

// LimitBodyTime makes h's request bodies obey t: a body that arrives slower is cut off (the
// read fails, and the handler answers as for any unreadable body).
func LimitBodyTime(h http.Handler, t BodyTimeouts) http.Handler {
	t = t.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = newDeadlineBody(w, r.Body, t)
		h.ServeHTTP(w, r)
	})
}

// deadlineBody moves the connection's read deadline ahead of each read by what the bytes
// read so far earned. The deadline is set from the start, so that a body the handler never
// reads is bounded too (net/http reads what is left of it after the answer, to keep the
// connection), and lifted only at the body's end: a body cut off leaves it in place, so the
// server gives up on the connection instead of waiting for the rest.
type deadlineBody struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	t     BodyTimeouts
	start time.Time
	n     int64
	done  bool
}

func newDeadlineBody(w http.ResponseWriter, body io.ReadCloser, t BodyTimeouts) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	b := &deadlineBody{body: body, rc: http.NewResponseController(w), t: t, start: time.Now()}
	b.extend()
	return b
}

// extend sets the deadline the bytes read so far earned. Not every ResponseWriter supports
// deadlines (httptest's recorder): then there is no connection to hold, and nothing to do.
func (b *deadlineBody) extend() {
	d := b.t.Grace + time.Duration(float64(b.n)/float64(b.t.MinRate)*float64(time.Second))
	if d > b.t.Max {
		d = b.t.Max
	}
	_ = b.rc.SetReadDeadline(b.start.Add(d))
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.done {
		return b.body.Read(p)
	}
	k, err := b.body.Read(p)
	b.n += int64(k)
	switch {
	case err == io.EOF:
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		b.done = true
	default:
		b.extend()
	}
	return k, err
}

func (b *deadlineBody) Close() error { return b.body.Close() }
