// Package core is the payment domain: merchants, payments, refunds and their state machine,
// input validation, the coded error type, the ledger's accounts, outbox events, and the
// interfaces that adapters implement (the channel gateway) or consume (the services).
//
// core owns the money rules. Every transition of a payment or refund (transition.go) is a
// pure function of its current state, its input and the time, returning a Change: the new
// state, the ledger journals it posts (ledger.go, each balanced) and the events it raises,
// or a coded *Error. Adapters load, fence and persist Changes; they decide nothing about money.
//
// core imports no adapter. The SQL store lives in core/postgres, the merchant HTTP API in
// core/httpapi, the channel adapters in core/cardacq, core/wechatpay, core/alipay and
// core/banktransfer; adapters do not import each other, and cmd/payd wires them together.
// The channel simulators are test and development tools, outside the domain's folder:
// cmd/channelsim/netsim (over the network) and cmd/channelsim/inprocsim (in process).
package core
