package core

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// PaymentCSVHeader is the header row of the payments export. Amounts are given in minor
// units and in decimal with the currency; times are UTC, ISO 8601.
var PaymentCSVHeader = []string{"id", "created_at", "status", "channel", "currency", "amount", "amount_decimal",
	"amount_captured", "amount_refunded", "amount_refunded_decimal", "merchant_reference", "customer_id",
	"customer_email", "description", "failure_code", "risk_outcome", "region"}

// PaymentCSVRecord is p's row in the payments export.
func PaymentCSVRecord(p *Payment) []string {
	var custID, custEmail, failure, riskOutcome string
	if p.Customer != nil {
		custID, custEmail = p.Customer.ID, p.Customer.Email
	}
	if p.FailureCode != nil {
		failure = *p.FailureCode
	}
	if p.Risk != nil {
		riskOutcome = p.Risk.Outcome
	}
	return []string{p.ID, p.CreatedAt.UTC().Format(time.RFC3339Nano), string(p.Status), string(p.Channel), p.Currency,
		strconv.FormatInt(p.Amount, 10), decimal(p.Amount, p.Currency), strconv.FormatInt(p.AmountCaptured, 10),
		strconv.FormatInt(p.AmountRefunded, 10), decimal(p.AmountRefunded, p.Currency), p.MerchantReference,
		custID, custEmail, p.Description, failure, riskOutcome, p.Region}
}

// RefundCSVHeader is the header row of the refunds export.
var RefundCSVHeader = []string{"id", "created_at", "status", "payment", "currency", "amount", "amount_decimal", "reason", "region"}

// RefundCSVRecord is r's row in the refunds export.
func RefundCSVRecord(r *Refund) []string {
	return []string{r.ID, r.CreatedAt.UTC().Format(time.RFC3339Nano), r.Status, r.Payment, r.Currency,
		strconv.FormatInt(r.Amount, 10), decimal(r.Amount, r.Currency), r.Reason, r.Region}
}

// decimal writes a minor-unit amount as a decimal number (1234 JPY → 1234, 1234 USD → 12.34).
func decimal(amount int64, currency string) string {
	return strings.TrimSuffix(FormatAmount(amount, currency), " "+currency)
}

// The exports, as counted (ExportCount).
const (
	ExportPayments            = "payments"
	ExportRefunds             = "refunds"
	ExportBalanceTransactions = "balance_transactions"
	ExportSettlements         = "settlements"
)

// ExportRowsHeader is the HTTP header in which the back office sends the number of rows an
// export will have (its header row not counted), counted before the rows stream, so that the
// page can show the download's progress.
const ExportRowsHeader = "X-Export-Rows"

// ExportFilter selects the rows of an export: a date range (required by the pages, optional
// through the API) and the payments list's filters.
type ExportFilter struct {
	Status            Status
	Channel           Channel
	MerchantReference string
	CreatedGTE        *time.Time
	CreatedLT         *time.Time
	// As PaymentFilter's.
	AmountGTE, AmountLTE *int64
	Customer             string
}

// WritePaymentsCSV writes the payments export to w: the header row (flushed at once, so a
// download starts before the first query returns), then a row for each payment export
// yields, streamed.
func WritePaymentsCSV(w io.Writer, export func(fn func(*Payment) error) error) error {
	cw := startCSV(w, PaymentCSVHeader)
	err := export(func(p *Payment) error { return writeRow(cw, PaymentCSVRecord(p)) })
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return err
}

// WriteRefundsCSV writes the refunds export to w, like WritePaymentsCSV.
func WriteRefundsCSV(w io.Writer, export func(fn func(*Refund) error) error) error {
	cw := startCSV(w, RefundCSVHeader)
	err := export(func(r *Refund) error { return writeRow(cw, RefundCSVRecord(r)) })
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return err
}

func startCSV(w io.Writer, header []string) *csv.Writer {
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	cw.Flush()
	if f, ok := w.(interface{ Flush() }); ok {
		f.Flush()
	}
	return cw
}

// writeRow writes one row. A text cell starting with = + - @ (a formula to spreadsheets)
// is prefixed with a quote so it stays text; numbers are left alone.
func writeRow(cw *csv.Writer, rec []string) error {
	for i, v := range rec {
		if v != "" && strings.ContainsAny(v[:1], "=+-@\t\r") {
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				rec[i] = "'" + v
			}
		}
	}
	return cw.Write(rec)
}

// BalanceTransactionCSVHeader is the header row of the balance transactions export: the
// same columns as a settlement's lines.
var BalanceTransactionCSVHeader = SettlementCSVHeader

// WriteBalanceTransactionsCSV writes the balance transactions export to w, like
// WritePaymentsCSV.
func WriteBalanceTransactionsCSV(w io.Writer, export func(fn func(*BalanceTransaction) error) error) error {
	cw := startCSV(w, BalanceTransactionCSVHeader)
	err := export(func(t *BalanceTransaction) error { return writeRow(cw, SettlementCSVRow(t)) })
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return err
}

// SettlementsCSVHeader is the header row of the settlements export.
var SettlementsCSVHeader = []string{"id", "date", "currency", "count", "gross_minor", "refunds_minor", "fees_minor", "net_minor",
	"gross", "refunds", "fees", "net", "status", "reconciliation", "created_at"}

// SettlementsCSVRecord is st's row in the settlements export.
func SettlementsCSVRecord(st *Settlement) []string {
	dec := func(v int64) string { return DecimalAmount(v, st.Currency) }
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []string{st.ID, st.Date, st.Currency, n(st.Count), n(st.Gross), n(st.Refunds), n(st.Fees), n(st.Net),
		dec(st.Gross), dec(st.Refunds), dec(st.Fees), dec(st.Net), st.Status, st.Reconciliation, st.CreatedAt.UTC().Format(time.RFC3339)}
}

// WriteSettlementsCSV writes the settlements export to w, like WritePaymentsCSV.
func WriteSettlementsCSV(w io.Writer, export func(fn func(*Settlement) error) error) error {
	cw := startCSV(w, SettlementsCSVHeader)
	err := export(func(st *Settlement) error { return writeRow(cw, SettlementsCSVRecord(st)) })
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return err
}
