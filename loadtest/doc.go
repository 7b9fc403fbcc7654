// Package loadtest is the platform's load generator: it drives a mix of merchant operations
// (create, create-then-capture, refund, get, list) through the merchant SDK against a local
// or deployed platform, measures them with HDR histograms, and writes a text summary, a JSON
// report, an HTML report and a per-operation history for the chaos checker.
//
// # Open and closed loop
//
// A closed-loop run (Config.Concurrency, no Rate) has N workers; each issues its next
// operation when the previous one finishes. It finds the maximum throughput, but its
// latencies are optimistic: when the system stalls, the workers stall with it and stop
// issuing work, so the requests that a real population of clients would have sent during the
// stall are never sent and never measured. This is coordinated omission.
//
// An open-loop run (Config.Rate > 0) schedules operation i at start + i/Rate, whatever the
// system does. Each operation's latency is measured from its scheduled (intended) start, not
// from the moment it was actually sent, so time an operation spent waiting because the
// generator or the system was behind is counted: this corrects coordinated omission. The
// "service" latency (from the actual send) is recorded as well; the difference between the
// two shows how far behind the schedule ran. At most Config.MaxInFlight operations run at
// once; an operation whose time comes while the pool is full is not sent and is counted as
// dropped, per operation type and per second, never silently skipped. A scheduler that falls
// behind (a stalled generator) catches up by issuing the late operations at once, still
// measured from their intended times.
//
// # Determinism
//
// Operation n of a run draws everything it decides (its type from the mix, merchant,
// channel, currency, amount, whether its card is declined, how much to capture or refund)
// from a random source seeded with (Config.Seed, n), so two runs with the same seed issue the
// same operations whatever their timing. Which payment a refund or a get picks depends on
// what earlier operations produced, so it follows the run's timing.
//
// # Operations
//
//   - create_auto: a payment with automatic capture on any channel of Config.Channels. Card
//     payments use the test card 4242424242424242, or 4000000000000002 for a share
//     Config.DeclineShare of them, whose 402 card_declined is an expected outcome ("declined"),
//     not an error. WeChat Pay, Alipay and bank transfer answer requires_action.
//   - create_capture: a card payment with manual capture, then its capture (all of it, or a
//     part for a share Config.PartialCaptureShare).
//   - refund: a full or partial refund of a card payment this run created and captured. The
//     generator tracks what is left to refund on each payment and reserves a refund's amount
//     before sending it, so refunds never exceed what was captured. When nothing is left to
//     refund, the operation is replaced by a card create_auto (and counted as a substitution).
//   - get: reads a payment this run created (a list when none exists yet).
//   - list: reads the first page of a merchant's payments.
//
// Every simulated merchant has its own SDK client whose endpoints are the target's regions
// ordered nearest first from the merchant's home region (or Config.ClientRegion), so the
// SDK's retries and regional failover are exercised when a region fails. Money-moving calls
// carry idempotency keys derived from the run and the operation ("lt-<run>-<n>-create").
//
// # Results
//
// Latencies are recorded in microseconds into HDR histograms (per operation type, sharded to
// avoid contention and merged with MergeHistograms at the end) and reported in
// milliseconds. A per-second series (by completion time) holds throughput and latency
// percentiles; Report is the result, with WriteText, WriteJSON, WriteHTML and FinalLine.
// With Config.History set, every operation is written as one JSON line (HistoryRecord) when
// it completes; ReadHistory reads them back.
//
// Outcomes: ok; declined (an expected decline, not an error); errors by code (API error
// codes, network_error, timeout, unknown_outcome for a 202 the retries did not settle, or
// an answer the generator did not expect); and unfinished: operations the generator
// cancelled itself at the end, outcome "unknown", counted apart from errors.
//
// A run always ends by itself: after Config.Duration (plus Config.Warmup, whose operations
// are excluded from the results), after Config.Ops operations, or when its context is
// cancelled; in-flight operations then get Config.Grace to finish before they are cancelled
// (Generator.Abort cancels them at once). The report is made in every case.
package loadtest
