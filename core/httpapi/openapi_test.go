package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/paycenter/paycenter/core"
)

// These tests keep docs/openapi.yaml honest: the document must be valid, describe exactly the
// routes the server serves, accept exactly what the Go types marshal, carry the error table of
// errors.go and the transitions of core.Status, and describe the answers the server really
// gives (checked through the real handlers with fake services). None needs a database.

const oaPath = "../../docs/openapi.yaml"

const (
	oaAdminToken = "0123456789abcdef0123"
	oaSecretKey  = "sk_test_0123456789abcdefghjk"
)

// loadOpenAPI loads and validates the document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(oaPath)
	if err != nil {
		t.Fatalf("load %s: %v", oaPath, err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableMultiError()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", oaPath, err)
	}
	return doc
}

// oaComponent returns a schema of components.schemas, failing the test if there is none.
func oaComponent(t *testing.T, doc *openapi3.T, name string) *openapi3.Schema {
	t.Helper()
	ref, ok := doc.Components.Schemas[name]
	if !ok || ref.Value == nil {
		t.Fatalf("components.schemas.%s is missing", name)
	}
	return ref.Value
}

// oaOperation returns the operation documented for a route "METHOD /path".
func oaOperation(t *testing.T, doc *openapi3.T, route string) *openapi3.Operation {
	t.Helper()
	method, path, _ := strings.Cut(route, " ")
	item := doc.Paths.Value(path)
	if item == nil {
		t.Fatalf("%s: path %s is not documented", route, path)
	}
	op := item.GetOperation(method)
	if op == nil {
		t.Fatalf("%s: method %s is not documented", route, method)
	}
	return op
}

// oaFlatten sees through the single-allOf wrappers the document uses to make a referenced
// schema nullable or to describe it in place.
func oaFlatten(s *openapi3.Schema) *openapi3.Schema {
	for s != nil && len(s.Properties) == 0 && len(s.AllOf) == 1 && s.AllOf[0].Value != nil {
		s = s.AllOf[0].Value
	}
	return s
}

// oaJSON marshals v with encoding/json, as the server does, and decodes it to plain values.
func oaJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal %T: %v", v, err)
	}
	return out
}

func oaKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	for _, name := range []string{"merchantKey", "adminToken"} {
		ss, ok := doc.Components.SecuritySchemes[name]
		if !ok || ss.Value == nil || ss.Value.Type != "http" || ss.Value.Scheme != "bearer" {
			t.Errorf("security scheme %s must be an http bearer scheme", name)
		}
	}
}

func TestOpenAPIRoutesMatchServer(t *testing.T) {
	doc := loadOpenAPI(t)
	served := oaEveryRoute(t)
	if len(served) == 0 {
		t.Fatal("the server reports no routes")
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for _, r := range oaUndocumented {
		if documented[r] {
			t.Errorf("route %q is documented now: take it off oaUndocumented", r)
		}
		if !slices.Contains(served, r) {
			t.Errorf("route %q of oaUndocumented is not served", r)
		}
	}
	for _, r := range served {
		if !documented[r] && !slices.Contains(oaUndocumented, r) {
			t.Errorf("route %q is served but not documented", r)
		}
		delete(documented, r)
	}
	for _, r := range oaKeys(documented) {
		t.Errorf("route %q is documented but not served", r)
	}
}

func TestOpenAPIOperationsAreAuthenticated(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, route := range oaEveryRoute(t) {
		if slices.Contains(oaUndocumented, route) {
			continue
		}
		t.Run(route, func(t *testing.T) {
			op := oaOperation(t, doc, route)
			_, path, _ := strings.Cut(route, " ")
			want := "merchantKey"
			switch {
			case path == "/healthz" || path == "/readyz" || strings.HasPrefix(path, "/v1/notifications/"):
				want = "" // notifications authenticate by the channel's signature
			case strings.HasPrefix(path, "/v1/admin/"):
				want = "adminToken"
			}
			var got []string
			if op.Security != nil {
				for _, req := range *op.Security {
					got = append(got, oaKeys(req)...)
				}
			} else if doc.Security != nil {
				t.Fatalf("operations must state their security themselves")
			}
			switch {
			case want == "" && len(got) != 0:
				t.Errorf("security = %v, want none", got)
			case want != "" && !slices.Equal(got, []string{want}):
				t.Errorf("security = %v, want [%s]", got, want)
			}
			if want != "" && op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("an authenticated route must document 401")
			}
			if want != "" && op.Responses.Status(http.StatusInternalServerError) == nil {
				t.Errorf("must document 500")
			}
		})
	}
}

var oaTime = time.Date(2026, 1, 31, 9, 26, 40, 123456000, time.UTC)

func oaPtr[T any](v T) *T { return &v }

// oaFullPayment sets every field, at every depth, including every pointer. It is a schema
// coverage example, not a realistic payment.
func oaFullPayment() *core.Payment {
	return &core.Payment{
		ID: "pay_us-east_5z8kq3v0c2m9x1b7r4t6", Object: "payment", Status: core.StatusRequiresAction,
		Amount: 1999, AmountCapturable: 1999, AmountCaptured: 500, AmountRefunded: 100,
		Currency: "USD", Channel: core.ChannelCard, CaptureMethod: core.CaptureManual,
		MerchantReference: "order-1042", Description: "Two coffees",
		Customer: &core.Customer{ID: "cus-77", Name: "Ana", Email: "ana@example.com", Phone: "+1 555 0100", IP: "203.0.113.7"},
		PaymentMethod: &core.PaymentMethod{Type: "card", Brand: "visa", Last4: "4242", ExpMonth: 12,
			ExpYear: 2034, Fingerprint: "0f1e2d3c4b5a69788796a5b4", Customer: "cus_us-east_5z8k"},
		Metadata:       map[string]string{"cart": "8812"},
		Region:         "us-east",
		FailureCode:    oaPtr(core.CodeCardDeclined),
		FailureMessage: oaPtr("Your card was declined."),
		NextAction: &core.NextAction{Type: "bank_transfer_instructions", QRCode: "weixin://wxpay/bizpayurl?pr=sim_1",
			RedirectURL: "https://alipay.sim.invalid/pay?trade_no=sim_1", BankAccount: "SIMBANK 0000 1234 5678",
			Reference: "sim_00000001", ExpiresAt: oaPtr(oaTime.Add(72 * time.Hour))},
		ChannelReference: oaPtr("sim_00000001"),
		Risk:             &core.Risk{Score: 42, Level: core.RiskNormal, Rule: oaPtr("rr_5z8kq3v0c2m9x1b7r4t6"), Outcome: core.RiskAllowed},
		CreatedAt:        oaTime, UpdatedAt: oaTime.Add(time.Second),
		CanceledAt: oaPtr(oaTime.Add(time.Minute)),
		MerchantID: "mer_us-east_2c4v6x8z0b1n3m5k7q9r",
	}
}

// oaBarePayment has every pointer nil, as a payment fresh from the database may.
func oaBarePayment() *core.Payment {
	return &core.Payment{
		ID: "pay_us-east_0b1n3m5k7q9r2c4v6x8z", Object: "payment", Status: core.StatusProcessing,
		Amount: 8800, Currency: "CNY", Channel: core.ChannelWeChatPay, CaptureMethod: core.CaptureAutomatic,
		MerchantReference: "order-1043",
		Metadata:          map[string]string{}, // the store never leaves it nil
		Region:            "us-east", CreatedAt: oaTime, UpdatedAt: oaTime,
	}
}

func oaFullRefund() *core.Refund {
	return &core.Refund{ID: "re_us-east_8m2k4q6v0c1x9b3r5t7z", Object: "refund",
		Payment: "pay_us-east_5z8kq3v0c2m9x1b7r4t6", Amount: 500, Currency: "USD", Status: core.RefundFailed,
		Reason: "requested_by_customer", Region: "us-east", FailureCode: oaPtr(core.CodeProcessingError),
		ChannelReference: oaPtr("rfd_00000002"), CreatedAt: oaTime, UpdatedAt: oaTime,
		MerchantID: "mer_us-east_2c4v6x8z0b1n3m5k7q9r"}
}

func oaPendingRefund() *core.Refund {
	r := oaFullRefund()
	r.Status, r.FailureCode, r.ChannelReference = core.RefundPending, nil, nil
	return r
}

func oaMerchant(withKey bool) *core.Merchant {
	m := &core.Merchant{ID: "mer_us-east_2c4v6x8z0b1n3m5k7q9r", Object: "merchant", Name: "Example Store",
		HomeRegion: "us-east", Status: "active", CreatedAt: oaTime}
	if withKey {
		m.SecretKey = "sk_test_newkey0123456789abcd"
	}
	return m
}

func oaBalance() *core.Balance {
	return &core.Balance{Object: "balance", Data: []core.CurrencyTotal{
		{Currency: "USD", Available: 1399, OnHold: 1999}, {Currency: "EUR", Available: 0, OnHold: 0}}}
}

func oaList() *core.List[*core.Payment] {
	return &core.List[*core.Payment]{Object: "list", Data: []*core.Payment{oaFullPayment(), oaBarePayment()}, HasMore: true}
}

func oaLedgerReport() *core.LedgerReport {
	return &core.LedgerReport{Balanced: false, Journals: 12, Entries: 30,
		UnbalancedJournals: []string{"jnl_5z8k sums to 1"},
		PaymentMismatches:  []string{"pay_us-east_5z8k: captured-refunded 10 vs posted 0, held 0 vs posted 0"},
		BalanceMismatches:  []string{"po_us-east_5z8k (paid, 500): merchant_available, payouts_in_transit, payouts_paid posted [500 -500 0], want [500 0 -500]"},
		NegativeBalances:   []string{"mer_us-east_x EUR: available -200 at 2026-11-25T10:00:00Z after a movement out (minor units)"}}
}

// oaCheckComplete asserts that v, marshalled from a fully populated Go value, has exactly the
// properties the schema documents, at every depth: a documented property that the Go type
// does not marshal is stale, a marshalled field that is not documented is missing.
func oaCheckComplete(t *testing.T, path string, ref *openapi3.SchemaRef, v any) {
	t.Helper()
	s := oaFlatten(ref.Value)
	switch v := v.(type) {
	case map[string]any:
		if len(s.Properties) == 0 {
			return // a free-form map, such as metadata
		}
		for _, name := range oaKeys(s.Properties) {
			if _, ok := v[name]; !ok {
				t.Errorf("%s.%s is documented but the Go value does not marshal it", path, name)
			}
		}
		for _, name := range oaKeys(v) {
			p, ok := s.Properties[name]
			if !ok {
				t.Errorf("%s.%s is marshalled by Go but not documented", path, name)
				continue
			}
			oaCheckComplete(t, path+"."+name, p, v[name])
		}
	case []any:
		if s.Items == nil {
			t.Errorf("%s is an array but the document gives no items schema", path)
			return
		}
		for i, x := range v {
			oaCheckComplete(t, fmt.Sprintf("%s[%d]", path, i), s.Items, x)
		}
	}
}

func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	tests := []struct {
		name   string
		schema string
		value  any
		// complete: every documented property, at every depth, is set in value.
		complete bool
	}{
		{"Payment/every pointer set", "Payment", oaFullPayment(), true},
		{"Payment/nil pointers", "Payment", oaBarePayment(), false},
		{"Refund/failed", "Refund", oaFullRefund(), true},
		{"Refund/pending", "Refund", oaPendingRefund(), false},
		{"Merchant/with secret key", "Merchant", oaMerchant(true), true},
		{"Merchant/without secret key", "Merchant", oaMerchant(false), false},
		{"Balance", "Balance", oaBalance(), true},
		{"PaymentList", "PaymentList", oaList(), true},
		{"LedgerReport", "LedgerReport", oaLedgerReport(), true},
		{"WebhookEndpoint/with secret", "WebhookEndpoint", oaEndpoint(true), true},
		{"Event", "Event", oaEvent(), false},
		{"CreateWebhookEndpointRequest", "CreateWebhookEndpointRequest", core.CreateWebhookEndpointParams{URL: "https://shop.example/hooks",
			EnabledEvents: []string{"*"}, Description: "orders"}, true},
		{"UpdateWebhookEndpointRequest", "UpdateWebhookEndpointRequest", core.UpdateWebhookEndpointParams{URL: oaPtr("https://shop.example/h"),
			EnabledEvents: []string{"refund.failed"}, Description: oaPtr("d"), Disabled: oaPtr(true)}, true},
		{"Error/every field", "Error", errorBody{Error: errorDetail{Type: typeCard, Code: core.CodeCardDeclined,
			Message: "Your card was declined.", Param: "payment_method.card.number",
			PaymentID: "pay_us-east_5z8kq3v0c2m9x1b7r4t6", RequestID: "req_3n7q1k9v5x2b8m4r6t0c"}}, true},
		{"Error/minimal", "Error", errorBody{Error: errorDetail{Type: typeAPI, Code: core.CodeInternal,
			Message: "An internal error occurred.", RequestID: "req_3n7q1k9v5x2b8m4r6t0c"}}, false},
		{"CreatePaymentRequest", "CreatePaymentRequest", core.CreatePaymentParams{Amount: 1999, Currency: "usd",
			Channel: core.ChannelCard, CaptureMethod: core.CaptureManual, MerchantReference: "order-1042",
			Description: "Two coffees", Customer: &core.Customer{ID: "cus-77", Name: "Ana", Email: "ana@example.com", Phone: "+1 555 0100", IP: "203.0.113.7"},
			PaymentMethod: &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: "4242424242424242",
				ExpMonth: 12, ExpYear: 2034, CVC: "123"}},
			Metadata: map[string]string{"cart": "8812"}}, true},
		{"CreatePaymentRequest/nulls", "CreatePaymentRequest", core.CreatePaymentParams{Amount: 8800, Currency: "cny",
			Channel: core.ChannelWeChatPay, CaptureMethod: core.CaptureAutomatic, MerchantReference: "order-1043"}, false},
		{"NotificationSettings", "NotificationSettings", oaNoticeSettings(), true},
		{"NotificationSettings/defaults", "NotificationSettings", core.DefaultNotificationSettings(), false},
		{"NotificationSettingsRequest", "NotificationSettingsRequest", core.NotificationSettingsParams{
			Notices: core.DefaultNotificationSettings().Notices, LowBalanceThreshold: map[string]int64{"cny": 1},
			SenderName: oaPtr("Acme"), ReplyTo: oaPtr("a@b.example"), DefaultLanguage: oaPtr("zh"),
			TopUpReminder: &core.TopUpReminder{IntervalDays: 7, Below: map[string]int64{"cny": 2}}}, true},
		{"NotificationTemplate", "NotificationTemplate", func() *core.NotificationTemplate { t, _ := oaTemplate("low_balance", "en", false); return t }(), true},
		{"NotificationTemplateRequest", "NotificationTemplateRequest", core.NotificationTemplateParams{Language: "en", Subject: "s", Text: "t", HTML: "h"}, true},
		{"Payout/failed", "Payout", oaPayout(core.PayoutFailed), true},
		{"Payout/pending", "Payout", oaPayout(core.PayoutPending), false},
		{"PayoutSchedule", "PayoutSchedule", &core.PayoutSchedule{Object: "payout_schedule", Merchant: "mer_us-east_x", Interval: core.ScheduleWeekly, WeeklyAnchor: "friday", DelayDays: 2, UpdatedAt: &oaAt}, true},
		{"CreatePayoutRequest", "CreatePayoutRequest", core.CreatePayoutParams{Amount: 500, Currency: "EUR", Description: "d"}, true},
		{"PayoutScheduleParams", "PayoutScheduleParams", core.PayoutScheduleParams{Interval: core.ScheduleWeekly, WeeklyAnchor: "friday", DelayDays: oaPtr(1)}, true},
		{"CaptureRequest", "CaptureRequest", core.CaptureParams{Amount: oaPtr(int64(1500))}, true},
		{"CaptureRequest/null amount", "CaptureRequest", core.CaptureParams{}, false},
		{"CancelRequest", "CancelRequest", core.CancelParams{CancellationReason: "Customer changed their mind"}, true},
		{"CreateRefundRequest", "CreateRefundRequest", core.CreateRefundParams{Payment: "pay_us-east_5z8kq3v0c2m9x1b7r4t6",
			Amount: oaPtr(int64(500)), Reason: "duplicate"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schema := oaComponent(t, doc, tt.schema)
			v := oaJSON(t, tt.value)
			if err := schema.VisitJSON(v, openapi3.MultiErrors()); err != nil {
				t.Fatalf("%T does not match components.schemas.%s:\n%v", tt.value, tt.schema, err)
			}
			if tt.complete {
				oaCheckComplete(t, tt.schema, doc.Components.Schemas[tt.schema], v)
			}
			// The schema must be strict enough to notice drift: an unknown field and a
			// missing required field are both refused.
			obj, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%T does not marshal to a JSON object", tt.value)
			}
			extra := make(map[string]any, len(obj)+1)
			for k, x := range obj {
				extra[k] = x
			}
			extra["field_added_in_go"] = "x"
			if schema.VisitJSON(extra) == nil {
				t.Errorf("components.schemas.%s accepts an undocumented field: set additionalProperties: false", tt.schema)
			}
			for _, req := range schema.Required {
				if _, ok := obj[req]; !ok {
					continue
				}
				without := make(map[string]any, len(obj))
				for k, x := range obj {
					if k != req {
						without[k] = x
					}
				}
				if schema.VisitJSON(without) == nil {
					t.Errorf("components.schemas.%s accepts a value without its required field %q", tt.schema, req)
				}
			}
		})
	}
}

// TestOpenAPIObjectSchemasAreClosed checks that every object schema with properties refuses
// unknown ones, so that the schema tests notice a field added on one side only.
func TestOpenAPIObjectSchemasAreClosed(t *testing.T) {
	doc := loadOpenAPI(t)
	var walk func(path string, s *openapi3.Schema, seen map[*openapi3.Schema]bool)
	walk = func(path string, s *openapi3.Schema, seen map[*openapi3.Schema]bool) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		if len(s.Properties) > 0 {
			if has := s.AdditionalProperties.Has; has == nil || *has {
				t.Errorf("%s: an object schema must set additionalProperties: false", path)
			}
			for _, name := range s.Required {
				if _, ok := s.Properties[name]; !ok {
					t.Errorf("%s: required property %q is not among its properties", path, name)
				}
			}
			for _, name := range oaKeys(s.Properties) {
				walk(path+"."+name, s.Properties[name].Value, seen)
			}
		}
		if s.Items != nil {
			walk(path+"[]", s.Items.Value, seen)
		}
	}
	seen := map[*openapi3.Schema]bool{}
	for _, name := range oaKeys(doc.Components.Schemas) {
		walk(name, doc.Components.Schemas[name].Value, seen)
	}
}

var oaErrorTableRow = regexp.MustCompile("^\\|\\s*`([a-z_]+)`\\s*\\|\\s*(\\d{3})\\s*\\|\\s*`([a-z_]+)`\\s*\\|\\s*$")

// oaDocumentedErrors reads the code | status | type table from the Error schema's description.
func oaDocumentedErrors(t *testing.T, doc *openapi3.T) map[string]struct {
	status int
	typ    string
} {
	t.Helper()
	out := map[string]struct {
		status int
		typ    string
	}{}
	for _, line := range strings.Split(oaComponent(t, doc, "Error").Description, "\n") {
		m := oaErrorTableRow.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		status, _ := strconv.Atoi(m[2])
		if _, dup := out[m[1]]; dup {
			t.Errorf("error code %s is listed twice in the Error table", m[1])
		}
		out[m[1]] = struct {
			status int
			typ    string
		}{status, m[3]}
	}
	if len(out) == 0 {
		t.Fatal("the Error schema's description holds no error table")
	}
	return out
}

func oaEnum(t *testing.T, s *openapi3.Schema) []string {
	t.Helper()
	var out []string
	for _, e := range s.Enum {
		str, ok := e.(string)
		if !ok {
			t.Fatalf("enum value %v is not a string", e)
		}
		out = append(out, str)
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIErrorTableMatchesServer(t *testing.T) {
	doc := loadOpenAPI(t)
	table := oaDocumentedErrors(t, doc)
	for _, code := range oaKeys(errorStatus) {
		want := errorStatus[code]
		got, ok := table[code]
		switch {
		case !ok:
			t.Errorf("error code %s (HTTP %d, %s) is missing from the Error table", code, want.status, want.typ)
		case got.status != want.status || got.typ != want.typ:
			t.Errorf("error code %s: documented as %d %s, errors.go says %d %s", code, got.status, got.typ, want.status, want.typ)
		}
	}
	for _, code := range oaKeys(table) {
		if _, ok := errorStatus[code]; !ok {
			t.Errorf("error code %s is documented but not in errors.go's table", code)
		}
	}

	detail := oaComponent(t, doc, "ErrorDetail")
	if got, want := oaEnum(t, detail.Properties["code"].Value), oaKeys(errorStatus); !slices.Equal(got, want) {
		t.Errorf("ErrorDetail.code enum = %v, want the codes of errors.go: %v", got, want)
	}
	types := map[string]bool{}
	statuses := map[string]bool{}
	for _, e := range errorStatus {
		types[e.typ] = true
		statuses[strconv.Itoa(e.status)] = true
	}
	if got, want := oaEnum(t, detail.Properties["type"].Value), oaKeys(types); !slices.Equal(got, want) {
		t.Errorf("ErrorDetail.type enum = %v, want the types of errors.go: %v", got, want)
	}

	// Every error the server renders, through a real handler, matches the Error schema and
	// has the table's status.
	errSchema := oaComponent(t, doc, "Error")
	for _, code := range oaKeys(errorStatus) {
		t.Run(code, func(t *testing.T) {
			pay := &oaPayments{err: &core.Error{Code: code, Message: "m", Param: "amount", PaymentID: "pay_us-east_x"}}
			w := oaCall{method: http.MethodGet, path: "/v1/balance", auth: oaSecretKey}.do(t, oaServer(t, pay, oaOps{}))
			if w.Code != table[code].status {
				t.Errorf("status = %d, documented %d", w.Code, table[code].status)
			}
			var body any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if err := errSchema.VisitJSON(body); err != nil {
				t.Errorf("rendered error does not match the Error schema: %v", err)
			}
			if got := oaErrorCode(t, w); got != code {
				t.Errorf("code = %q, want %q", got, code)
			}
		})
	}

	// Error answers are documented only with statuses the table can produce.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, resp := range op.Responses.Map() {
				mt := resp.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error" {
					if status >= "400" && !(path == "/readyz" && status == "503") {
						t.Errorf("%s %s: response %s must use the Error schema", method, path, status)
					}
					continue
				}
				if !statuses[status] {
					t.Errorf("%s %s: error response %s has no error code with that status", method, path, status)
				}
			}
		}
	}
}

var oaTransitionLine = regexp.MustCompile("^- `([a-z_]+)` → (.*)$")

func TestOpenAPIPaymentStatuses(t *testing.T) {
	doc := loadOpenAPI(t)
	strs := func(xs ...[]string) []string {
		out := slices.Concat(xs...)
		sort.Strings(out)
		return out
	}
	statuses := make([]string, len(core.Statuses))
	for i, s := range core.Statuses {
		statuses[i] = string(s)
	}
	channels := make([]string, len(core.Channels))
	for i, c := range core.Channels {
		channels[i] = string(c)
	}
	enums := []struct {
		schema string
		got    *openapi3.Schema
		want   []string
	}{
		{"PaymentStatus", oaComponent(t, doc, "PaymentStatus"), strs(statuses)},
		{"Channel", oaComponent(t, doc, "Channel"), strs(channels)},
		{"CaptureMethod", oaComponent(t, doc, "CaptureMethod"), strs([]string{string(core.CaptureAutomatic), string(core.CaptureManual)})},
		{"RefundReason", oaComponent(t, doc, "RefundReason"), strs(core.RefundReasons)},
		{"Refund.status", oaComponent(t, doc, "Refund").Properties["status"].Value,
			strs([]string{core.RefundPending, core.RefundSucceeded, core.RefundFailed})},
	}
	for _, e := range enums {
		if got := oaEnum(t, e.got); !slices.Equal(got, e.want) {
			t.Errorf("%s enum = %v, want %v", e.schema, got, e.want)
		}
	}

	// The Payment description lists the transitions of core.Status, one line per status.
	documented := map[core.Status][]core.Status{}
	for _, line := range strings.Split(oaComponent(t, doc, "Payment").Description, "\n") {
		m := oaTransitionLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		from := core.Status(m[1])
		if _, dup := documented[from]; dup {
			t.Errorf("transitions from %s are listed twice", from)
		}
		documented[from] = []core.Status{}
		if strings.TrimSpace(m[2]) == "(final)" {
			continue
		}
		for _, to := range strings.Split(m[2], ",") {
			documented[from] = append(documented[from], core.Status(strings.Trim(strings.TrimSpace(to), "`")))
		}
	}
	for _, from := range core.Statuses {
		tos, ok := documented[from]
		if !ok {
			t.Errorf("the Payment description lists no transitions from %s", from)
			continue
		}
		if len(tos) == 0 != from.Final() {
			t.Errorf("%s: documented final = %v, core says %v", from, len(tos) == 0, from.Final())
		}
		for _, to := range core.Statuses {
			if got, want := slices.Contains(tos, to), from.CanTransition(to); got != want {
				t.Errorf("transition %s → %s: documented %v, core.Status.CanTransition says %v", from, to, got, want)
			}
		}
		for _, to := range tos {
			if !to.Valid() {
				t.Errorf("transition %s → %q: not a status", from, to)
			}
		}
	}
	for from := range documented {
		if !from.Valid() {
			t.Errorf("transitions listed from %q, which is not a status", from)
		}
	}
}

// fakes: just enough of the services for the handlers to answer.

type oaMerchants struct{}

func (oaMerchants) CreateMerchant(_ context.Context, name, region string) (*core.Merchant, error) {
	if name == "" {
		return nil, core.ParamError(core.CodeParameterMissing, "name", "name is required.")
	}
	m := oaMerchant(true)
	m.Name, m.HomeRegion = name, region
	return m, nil
}

func (oaMerchants) Authenticate(_ context.Context, secret string) (*core.Merchant, error) {
	if secret != oaSecretKey {
		return nil, core.Errorf(core.CodeUnauthenticated, "Invalid API key.")
	}
	return oaMerchant(false), nil
}

func (oaMerchants) RollKey(_ context.Context, _, secret string, grace time.Duration) (*core.Merchant, error) {
	if grace == 7*time.Second {
		return nil, core.Errorf(core.CodeForbidden, "This key was already rolled.")
	}
	return oaMerchant(true), nil
}

func (oaMerchants) APIKeys(context.Context, string, string) ([]core.APIKey, error) {
	exp := oaTime.Add(time.Hour)
	return []core.APIKey{
		{ID: "key_3b8f0c2a9d1e4f5a6b7c8d9e", Object: "api_key", Prefix: "sk_5z8kq3v", Last4: "x7r4", CreatedAt: oaTime, LastUsedAt: &oaTime, Current: true},
		{ID: "key_0c2a9d1e4f5a6b7c8d9e3b8f", Object: "api_key", Prefix: "sk_2c4v6x8", Last4: "b1n3", CreatedAt: oaTime, ExpiresAt: &exp},
	}, nil
}

func (oaMerchants) RevokeKey(_ context.Context, _, id, _ string) (*core.APIKey, error) {
	switch id {
	case "key_missing":
		return nil, core.ParamError(core.CodeNotFound, "id", "No such live API key.")
	case "key_only":
		return nil, core.Errorf(core.CodeForbidden, "This is the account's only key without an expiry.")
	}
	return &core.APIKey{ID: id, Object: "api_key", Prefix: "sk_2c4v6x8", Last4: "b1n3", CreatedAt: oaTime, ExpiresAt: &oaTime}, nil
}

func (oaMerchants) RevokeAllKeys(_ context.Context, id string) (*core.Merchant, error) {
	if id == "mer_missing" {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such merchant.")
	}
	return oaMerchant(true), nil
}

type oaPayments struct {
	// money answers the money-moving calls given the object a success would return; nil
	// renders that object as a 200.
	money func(req core.IdempotentRequest, v any) (core.Reply, error)
	// err, if set, is the answer of the read calls.
	err          error
	filter       *core.PaymentFilter // the last list filter
	refundFilter *core.RefundFilter  // the last refund list filter
}

func (f *oaPayments) do(req core.IdempotentRequest, v any) (core.Reply, error) {
	if f.money != nil {
		return f.money(req, v)
	}
	return req.Render(v, nil), nil
}

func (f *oaPayments) CreatePayment(_ context.Context, req core.IdempotentRequest, _ core.CreatePaymentParams) (core.Reply, error) {
	p := oaFullPayment()
	p.Status, p.NextAction, p.FailureCode, p.FailureMessage, p.CanceledAt = core.StatusSucceeded, nil, nil, nil, nil
	return f.do(req, p)
}

func (f *oaPayments) CapturePayment(_ context.Context, req core.IdempotentRequest, _ string, _ core.CaptureParams) (core.Reply, error) {
	p := oaFullPayment()
	p.Status, p.NextAction, p.CanceledAt = core.StatusSucceeded, nil, nil
	return f.do(req, p)
}

func (f *oaPayments) CancelPayment(_ context.Context, req core.IdempotentRequest, _ string, _ core.CancelParams) (core.Reply, error) {
	p := oaFullPayment()
	p.Status, p.NextAction = core.StatusCanceled, nil
	return f.do(req, p)
}

func (f *oaPayments) CreateRefund(_ context.Context, req core.IdempotentRequest, _ core.CreateRefundParams) (core.Reply, error) {
	return f.do(req, oaFullRefund())
}

func (f *oaPayments) Payment(context.Context, string, string) (*core.Payment, error) {
	if f.err != nil {
		return nil, f.err
	}
	return oaFullPayment(), nil
}

func (f *oaPayments) Payments(_ context.Context, _ string, filter core.PaymentFilter) (*core.List[*core.Payment], error) {
	f.filter = &filter
	if f.err != nil {
		return nil, f.err
	}
	return oaList(), nil
}

func (f *oaPayments) Refund(context.Context, string, string) (*core.Refund, error) {
	if f.err != nil {
		return nil, f.err
	}
	return oaFullRefund(), nil
}

func (f *oaPayments) Refunds(_ context.Context, _ string, rf core.RefundFilter) (*core.List[*core.Refund], error) {
	if f.err != nil {
		return nil, f.err
	}
	f.refundFilter = &rf
	return &core.List[*core.Refund]{Object: "list", Data: []*core.Refund{oaFullRefund()}, HasMore: true}, nil
}

func (f *oaPayments) Balance(context.Context, string) (*core.Balance, error) {
	if f.err != nil {
		return nil, f.err
	}
	return oaBalance(), nil
}

// oaGateway is a fake GatewayOps answering fixed values.
type oaGateway struct{}

func (oaGateway) SetChannel(_ context.Context, merchantID string, ch core.Channel, enabled bool, creds map[string]string) (*core.ChannelAuthorization, error) {
	if !ch.Valid() {
		return nil, core.ParamError(core.CodeParameterInvalid, "channel", "Unknown channel.")
	}
	return &core.ChannelAuthorization{Object: "channel_authorization", Merchant: merchantID, Channel: ch, Enabled: enabled, HasCredentials: creds != nil, UpdatedAt: oaTime}, nil
}

func (oaGateway) Channels(_ context.Context, merchantID string) ([]core.ChannelAuthorization, error) {
	if merchantID == "mer_missing" {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such merchant.")
	}
	return []core.ChannelAuthorization{{Object: "channel_authorization", Merchant: merchantID, Channel: core.ChannelCard, Enabled: true, UpdatedAt: oaTime},
		{Object: "channel_authorization", Merchant: merchantID, Channel: core.ChannelAlipay, Enabled: true}}, nil
}

func (oaGateway) ReconcileDay(_ context.Context, ch core.Channel, day time.Time) (*core.ReconciliationReport, error) {
	return &core.ReconciliationReport{Object: "reconciliation", Channel: ch, Date: day.Format("2006-01-02"), ChannelLines: 2, PlatformLines: 2, Matched: 1,
		MissingOnPlatform: []core.ReconciliationLine{{Kind: "charge", PaymentID: "pay_us-east_x", Amount: 100, Currency: "USD"}},
		MissingOnChannel:  []core.ReconciliationLine{{Kind: "refund", PaymentID: "pay_us-east_y", RefundID: "re_us-east_y", Amount: 50, Currency: "USD"}},
		AmountMismatches:  []core.ReconciliationMismatch{}}, nil
}

func (oaGateway) ApplyNotification(context.Context, core.Notification) (bool, error) {
	return true, nil
}

func oaParseNotification(r *http.Request) (core.Notification, error) {
	if r.Header.Get("X-Signature") != "good" {
		return core.Notification{}, fmt.Errorf("test: %w", core.ErrBadSignature)
	}
	return core.Notification{EventID: "e1", PaymentID: "pay_us-east_x", Outcome: core.OutcomeCaptured}, nil
}

type oaOps struct {
	pingErr error
	oaConsole
}

// oaConsole is the back office's part of the API: console users and the CSV exports, one row
// each.
type oaConsole struct{}

func (oaConsole) CreateConsoleUser(_ context.Context, _ string, p core.CreateUserParams) (*core.User, error) {
	return &core.User{ID: "usr_us-east_5z8kq3v0c2m9x1b7r4t6", Email: p.Email, Role: p.Role, MerchantID: p.Merchant, CreatedAt: oaTime}, nil
}
func (oaConsole) ExportPayments(_ context.Context, _ string, _ core.ExportFilter, fn func(*core.Payment) error) error {
	return fn(oaFullPayment())
}
func (oaConsole) ExportRefunds(_ context.Context, _ string, _ core.ExportFilter, fn func(*core.Refund) error) error {
	return fn(oaFullRefund())
}
func (oaConsole) ExportBalanceTransactions(_ context.Context, _ string, _ core.ExportFilter, fn func(*core.BalanceTransaction) error) error {
	return fn(&core.BalanceTransaction{Object: "balance_transaction", ID: "txn_us-east_1", Type: "payment", Amount: 1999, Fee: 88,
		Net: 1911, Currency: "usd", Status: core.TxnPending, AvailableOn: oaTime, Source: "pay_us-east_x", CreatedAt: oaTime})
}
func (oaConsole) ExportSettlements(_ context.Context, _ string, _ core.ExportFilter, fn func(*core.Settlement) error) error {
	return fn(&core.Settlement{ID: "st_us-east_1", Date: "2026-01-31", Currency: "usd", CreatedAt: oaTime})
}

// oaEveryService offers every optional service, so that the server serves every route it
// can; the services the document does not describe yet are nil (never called: only the routes
// are listed).
type oaEveryService struct {
	oaOps
	oaCustomers
	RiskOps
	Verifications
}

// oaCustomers is Customers under another name: a field named Customers would hide the
// method of that name.
type oaCustomers interface{ Customers }

// oaUndocumented are the routes the server serves that docs/openapi.yaml does not describe
// yet. The list is exact: a route documented, or no longer served, must leave it.
var oaUndocumented = []string{
	"DELETE /v1/customers/{id}",
	"GET /v1/admin/aml/cases",
	"GET /v1/admin/reviews",
	"GET /v1/admin/risk/audit",
	"GET /v1/admin/risk/lists",
	"GET /v1/admin/risk/rules",
	"GET /v1/customers",
	"GET /v1/customers/{id}",
	"GET /v1/customers/{id}/balance_transactions",
	"GET /v1/customers/{id}/notifications",
	"GET /v1/customers/{id}/verification",
	"POST /v1/admin/aml/cases/{id}",
	"POST /v1/admin/reviews/{id}/approve",
	"POST /v1/admin/reviews/{id}/reject",
	"POST /v1/admin/risk/lists",
	"POST /v1/admin/risk/lists/{id}/items",
	"POST /v1/admin/risk/lists/{id}/items/remove",
	"POST /v1/admin/risk/rules",
	"POST /v1/admin/risk/rules/test",
	"POST /v1/admin/risk/rules/{id}",
	"POST /v1/admin/risk/rules/{id}/disable",
	"POST /v1/customers",
	"POST /v1/customers/{id}",
	"POST /v1/customers/{id}/cards",
	"POST /v1/customers/{id}/phone_verifications",
	"POST /v1/customers/{id}/phone_verifications/confirm",
	"POST /v1/customers/{id}/top_ups",
	"POST /v1/notification_templates/{name}/preview",
}

// oaEveryRoute is every route the server can serve, documented or not yet.
func oaEveryRoute(t *testing.T) []string {
	t.Helper()
	s, err := NewServer(nil, nil, oaEveryService{}, Config{AdminToken: oaAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	return s.Routes()
}

// oaAlertmanagerBody is a notification as Alertmanager 0.25 sends it.
const oaAlertmanagerBody = `{"receiver":"payd","status":"firing","alerts":[{"status":"firing",` +
	`"labels":{"alertname":"PaycenterChannelBreakerOpen","channel":"card","region":"us-east","severity":"critical"},` +
	`"annotations":{"summary":"Circuit breaker open"},"startsAt":"2026-12-03T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",` +
	`"generatorURL":"http://127.0.0.1:9090/graph","fingerprint":"4f1b2c3d4e5f6a7b"}],"groupLabels":{"alertname":"PaycenterChannelBreakerOpen"},` +
	`"commonLabels":{"alertname":"PaycenterChannelBreakerOpen"},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093",` +
	`"version":"4","groupKey":"{}:{alertname=\"PaycenterChannelBreakerOpen\"}","truncatedAlerts":0}`

func (oaOps) CheckLedger(context.Context) (*core.LedgerReport, error) {
	return oaLedgerReport(), nil
}
func (o oaOps) Ping(context.Context) error { return o.pingErr }
func (oaOps) Alerts(context.Context, string, int) ([]core.Alert, error) {
	return []core.Alert{{Object: "alert", ID: "alr_x", Fingerprint: "f", Source: "detector", Detector: "decline_burst",
		Severity: "critical", Status: "firing", Labels: map[string]string{"merchant": "mer_us-east_x"}, Summary: "40 declines",
		Value: 40, EvidenceQuery: "SELECT 1", FirstSeenAt: oaTime, LastSeenAt: oaTime, ResolvedAt: oaPtr(oaTime)}}, nil
}
func (oaOps) RecordNotifications(context.Context, []core.AlertNotification) error { return nil }

func oaServer(t *testing.T, pay *oaPayments, ops oaOps) *Server {
	t.Helper()
	if pay == nil {
		pay = &oaPayments{}
	}
	s, err := NewServer(pay, oaMerchants{}, ops, Config{AdminToken: oaAdminToken, Region: "us-east",
		NodeID: "node-1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return oaTime },
		Gateway: oaGateway{}, Webhooks: oaWebhooks{pay}, Notifications: map[core.Channel]NotificationParser{core.ChannelAlipay: oaParseNotification}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type oaCall struct {
	method, path string
	auth         string // bearer token; "" sends none
	idemKey      string // "" sends none
	body         string
	header       string // X-Signature, for notifications
	contentType  string // the body's Content-Type; default application/json
}

func (c oaCall) do(t *testing.T, s *Server) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(c.method, c.path, body)
	if c.auth != "" {
		r.Header.Set("Authorization", "Bearer "+c.auth)
	}
	if c.idemKey != "" {
		r.Header.Set("Idempotency-Key", c.idemKey)
	}
	if c.header != "" {
		r.Header.Set("X-Signature", c.header)
	}
	if c.body != "" {
		r.Header.Set("Content-Type", cmp.Or(c.contentType, "application/json"))
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func oaErrorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e errorBody
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	return e.Error.Code
}

// oaIdempotencyKeyParam returns the operation's Idempotency-Key header parameter, or nil.
func oaIdempotencyKeyParam(op *openapi3.Operation) *openapi3.Parameter {
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.In == openapi3.ParameterInHeader && strings.EqualFold(p.Value.Name, "Idempotency-Key") {
			return p.Value
		}
	}
	return nil
}

// TestOpenAPIIdempotencyKeys checks, against the real handlers, that the document requires an
// Idempotency-Key on exactly the routes that insist on one, and that its schema accepts
// exactly the keys the server accepts.
func TestOpenAPIIdempotencyKeys(t *testing.T) {
	doc := loadOpenAPI(t)
	s := oaServer(t, nil, oaOps{})
	var money []string
	for _, route := range s.Routes() {
		t.Run(route, func(t *testing.T) {
			method, path, _ := strings.Cut(route, " ")
			auth := oaSecretKey
			if strings.HasPrefix(path, "/v1/admin/") {
				auth = oaAdminToken
			}
			w := oaCall{method: method, path: strings.ReplaceAll(path, "{id}", "pay_us-east_x"), auth: auth, body: "{}"}.do(t, s)
			needsKey := oaErrorCode(t, w) == core.CodeIdempotencyKeyRequired
			if needsKey && w.Code != http.StatusBadRequest {
				t.Errorf("a missing key answers %d, want 400", w.Code)
			}
			p := oaIdempotencyKeyParam(oaOperation(t, doc, route))
			switch {
			case needsKey && p == nil:
				t.Errorf("the server insists on an Idempotency-Key, the document does not mention it")
			case needsKey && !p.Required:
				t.Errorf("the server insists on an Idempotency-Key, the document says it is optional")
			case !needsKey && p != nil:
				t.Errorf("the document requires an Idempotency-Key, the server does not (answered %d %s)", w.Code, oaErrorCode(t, w))
			}
			if needsKey {
				money = append(money, route)
			}
		})
	}
	wantMoney := []string{"POST /v1/payments", "POST /v1/payments/{id}/cancel", "POST /v1/payments/{id}/capture", "POST /v1/payouts", "POST /v1/refunds",
		"POST /v1/transfers", "POST /v1/transfers/{id}/reversals"}
	if !slices.Equal(money, wantMoney) {
		t.Errorf("routes that need an Idempotency-Key = %v, want %v", money, wantMoney)
	}

	param := doc.Components.Parameters["IdempotencyKey"]
	if param == nil || param.Value == nil {
		t.Fatal("components.parameters.IdempotencyKey is missing")
	}
	keySchema := param.Value.Schema.Value
	if keySchema.MaxLength == nil || *keySchema.MaxLength != core.MaxIdempotencyKey {
		got := "unset"
		if keySchema.MaxLength != nil {
			got = strconv.FormatUint(*keySchema.MaxLength, 10)
		}
		t.Errorf("Idempotency-Key maxLength = %s, want %d", got, core.MaxIdempotencyKey)
	}
	for _, key := range []string{"k", "9b2c6f0e-4d1a-4f7e-b1b5-0c8a3e2d7f41", "!~{}[]|\\\"'", strings.Repeat("k", 255),
		strings.Repeat("k", 256), "has space", "tab\tkey", "caf\u00e9", "\x7f"} {
		t.Run(fmt.Sprintf("key %.20q (%d bytes)", key, len(key)), func(t *testing.T) {
			w := oaCall{method: http.MethodPost, path: "/v1/payments/pay_us-east_x/cancel", auth: oaSecretKey,
				idemKey: key, body: "{}"}.do(t, s)
			serverAccepts := oaErrorCode(t, w) != core.CodeIdempotencyKeyInvalid
			docAccepts := keySchema.VisitJSON(key) == nil
			if serverAccepts != docAccepts {
				t.Errorf("server accepts the key: %v (answered %d %s); document accepts it: %v",
					serverAccepts, w.Code, oaErrorCode(t, w), docAccepts)
			}
		})
	}
}

// TestOpenAPIListParameters checks that the server accepts every documented query parameter
// of GET /v1/payments, uses it, and agrees with the document on the limit's bounds.
func TestOpenAPIListParameters(t *testing.T) {
	doc := loadOpenAPI(t)
	op := oaOperation(t, doc, "GET /v1/payments")
	samples := map[string]string{
		"limit":              "5",
		"starting_after":     "pay_us-east_5z8kq3v0c2m9x1b7r4t6",
		"status":             "succeeded",
		"merchant_reference": "order-1042",
		"created[gte]":       "1769817600",
		"created[lte]":       "2026-02-01T00:00:00Z",
		"channel":            "alipay",
		"amount[gte]":        "1000",
		"amount[lte]":        "5000",
		"customer":           "ana@example.com",
	}
	q := url.Values{}
	var limit *openapi3.Schema
	for _, p := range op.Parameters {
		if p.Value.In != openapi3.ParameterInQuery {
			continue
		}
		v, ok := samples[p.Value.Name]
		if !ok {
			t.Errorf("query parameter %q is documented but this test has no sample for it", p.Value.Name)
			continue
		}
		q.Set(p.Value.Name, v)
		if p.Value.Name == "limit" {
			limit = p.Value.Schema.Value
		}
	}
	for name := range samples {
		if !q.Has(name) {
			t.Errorf("query parameter %q is not documented", name)
		}
	}
	pay := &oaPayments{}
	s := oaServer(t, pay, oaOps{})
	w := oaCall{method: http.MethodGet, path: "/v1/payments?" + q.Encode(), auth: oaSecretKey}.do(t, s)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /v1/payments with every documented parameter: %d %s", w.Code, w.Body)
	}
	f := pay.filter
	if f == nil || f.Limit != 5 || f.StartingAfter == "" || f.Status != core.StatusSucceeded ||
		f.MerchantReference == "" || f.CreatedGTE == nil || f.CreatedLTE == nil || f.Channel != core.ChannelAlipay ||
		f.AmountGTE == nil || *f.AmountGTE != 1000 || f.AmountLTE == nil || *f.AmountLTE != 5000 || f.Customer != "ana@example.com" {
		t.Errorf("the server did not use every documented parameter: filter %+v", f)
	}
	if w := (oaCall{method: http.MethodGet, path: "/v1/payments?bogus=1", auth: oaSecretKey}).do(t, s); w.Code != http.StatusBadRequest {
		t.Errorf("an undocumented parameter answered %d, want 400", w.Code)
	}

	if limit == nil {
		t.Fatal("the limit parameter is not documented")
	}
	if limit.Default == nil || fmt.Sprint(limit.Default) != strconv.Itoa(core.DefaultListLimit) {
		t.Errorf("limit default = %v, want %d", limit.Default, core.DefaultListLimit)
	}
	for _, n := range []int{-1, 0, 1, 10, core.MaxListLimit, core.MaxListLimit + 1} {
		w := oaCall{method: http.MethodGet, path: fmt.Sprintf("/v1/payments?limit=%d", n), auth: oaSecretKey}.do(t, s)
		serverAccepts, docAccepts := w.Code == http.StatusOK, limit.VisitJSON(float64(n)) == nil
		if serverAccepts != docAccepts {
			t.Errorf("limit=%d: server accepts %v (%d), document accepts %v", n, serverAccepts, w.Code, docAccepts)
		}
	}
}

// TestOpenAPIResponsesConform sends requests through the real handlers (with fake services)
// and checks every answer against the document: a documented status, a body matching its
// schema, and headers that are documented (and present when required).
func TestOpenAPIResponsesConform(t *testing.T) {
	doc := loadOpenAPI(t)
	replayed := func(req core.IdempotentRequest, v any) (core.Reply, error) {
		rep := req.Render(v, nil)
		rep.Replayed = true
		return rep, nil
	}
	unknown := func(req core.IdempotentRequest, v any) (core.Reply, error) {
		rep := req.Render(v, nil)
		rep.Status = http.StatusAccepted
		if r, ok := v.(*core.Refund); ok {
			r.Status, r.FailureCode, r.ChannelReference = core.RefundPending, nil, nil
			rep = req.Render(r, nil)
			rep.Status = http.StatusAccepted
		}
		return rep, nil
	}
	storedError := func(e *core.Error) func(core.IdempotentRequest, any) (core.Reply, error) {
		return func(req core.IdempotentRequest, _ any) (core.Reply, error) {
			rep := req.Render(nil, e)
			rep.Replayed = true
			return rep, nil
		}
	}
	failing := func(e error) func(core.IdempotentRequest, any) (core.Reply, error) {
		return func(core.IdempotentRequest, any) (core.Reply, error) { return core.Reply{}, e }
	}
	inUse := &core.Error{Code: core.CodeIdempotencyKeyInUse, Param: "Idempotency-Key", Message: "in use", RetryAfter: 7}
	reused := &core.Error{Code: core.CodeIdempotencyKeyReused, Param: "Idempotency-Key", Message: "reused"}
	declined := &core.Error{Code: core.CodeCardDeclined, Message: "Your card was declined.", PaymentID: "pay_us-east_x"}
	invalidState := &core.Error{Code: core.CodeInvalidState, Message: "wrong state", PaymentID: "pay_us-east_x"}
	notFound := core.ParamError(core.CodeNotFound, "id", "No such payment.")

	const (
		createPayment = "POST /v1/payments"
		capture       = "POST /v1/payments/{id}/capture"
		cancel        = "POST /v1/payments/{id}/cancel"
		createRefund  = "POST /v1/refunds"
	)
	card := `{"amount":1999,"currency":"usd","channel":"card","merchant_reference":"order-1042",` +
		`"payment_method":{"card":{"number":"4242 4242 4242 4242","exp_month":12,"exp_year":2034,"cvc":"123"}}}`
	refund := `{"payment":"pay_us-east_x","amount":500}`
	tests := []struct {
		name  string
		route string
		call  oaCall
		money func(core.IdempotentRequest, any) (core.Reply, error)
		err   error // read calls' answer
		ping  error
		want  int
	}{
		{"healthz", "GET /healthz", oaCall{path: "/healthz"}, nil, nil, nil, 200},
		{"readyz", "GET /readyz", oaCall{path: "/readyz"}, nil, nil, nil, 200},
		{"readyz/database down", "GET /readyz", oaCall{path: "/readyz"}, nil, nil, errors.New("down"), 503},
		{"create merchant", "POST /v1/admin/merchants", oaCall{auth: oaAdminToken, body: `{"name":"Shop","home_region":"us-east"}`}, nil, nil, nil, 200},
		{"create merchant/no name", "POST /v1/admin/merchants", oaCall{auth: oaAdminToken, body: `{}`}, nil, nil, nil, 400},
		{"create merchant/unknown field", "POST /v1/admin/merchants", oaCall{auth: oaAdminToken, body: `{"nom":"Shop"}`}, nil, nil, nil, 400},
		{"create merchant/merchant key", "POST /v1/admin/merchants", oaCall{auth: oaSecretKey, body: `{}`}, nil, nil, nil, 401},
		{"ledger check", "GET /v1/admin/ledger/check", oaCall{auth: oaAdminToken}, nil, nil, nil, 200},
		{"ledger check/no token", "GET /v1/admin/ledger/check", oaCall{}, nil, nil, nil, 401},
		{"merchant", "GET /v1/merchant", oaCall{auth: oaSecretKey}, nil, nil, nil, 200},
		{"merchant/bad key", "GET /v1/merchant", oaCall{auth: "sk_wrong"}, nil, nil, nil, 401},
		{"roll key", "POST /v1/api_keys/roll", oaCall{auth: oaSecretKey, body: `{"expire_current_in":3600}`}, nil, nil, nil, 200},
		{"roll key/empty body", "POST /v1/api_keys/roll", oaCall{auth: oaSecretKey}, nil, nil, nil, 200},
		{"roll key/bad json", "POST /v1/api_keys/roll", oaCall{auth: oaSecretKey, body: `{"expire_current_in":"soon"}`}, nil, nil, nil, 400},
		{"roll key/already expiring", "POST /v1/api_keys/roll", oaCall{auth: oaSecretKey, body: `{"expire_current_in":7}`}, nil, nil, nil, 403},
		{"roll key/not json", "POST /v1/api_keys/roll", oaCall{auth: oaSecretKey, body: `expire_current_in=7`, contentType: "application/x-www-form-urlencoded"}, nil, nil, nil, 415},
		{"list keys", "GET /v1/api_keys", oaCall{auth: oaSecretKey}, nil, nil, nil, 200},
		{"list keys/query", "GET /v1/api_keys", oaCall{auth: oaSecretKey, path: "/v1/api_keys?limit=3"}, nil, nil, nil, 400},
		{"list keys/no key", "GET /v1/api_keys", oaCall{auth: "-"}, nil, nil, nil, 401},
		{"revoke key", "POST /v1/api_keys/{id}/revoke", oaCall{auth: oaSecretKey, path: "/v1/api_keys/key_0c2a9d1e4f5a6b7c8d9e3b8f/revoke"}, nil, nil, nil, 200},
		{"revoke key/unknown", "POST /v1/api_keys/{id}/revoke", oaCall{auth: oaSecretKey, path: "/v1/api_keys/key_missing/revoke"}, nil, nil, nil, 404},
		{"revoke key/only key", "POST /v1/api_keys/{id}/revoke", oaCall{auth: oaSecretKey, path: "/v1/api_keys/key_only/revoke"}, nil, nil, nil, 403},
		{"revoke key/unknown field", "POST /v1/api_keys/{id}/revoke", oaCall{auth: oaSecretKey, path: "/v1/api_keys/key_only/revoke", body: `{"x":1}`}, nil, nil, nil, 400},
		{"revoke all keys", "POST /v1/admin/merchants/{id}/api_keys/revoke_all", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/api_keys/revoke_all"}, nil, nil, nil, 200},
		{"revoke all keys/unknown merchant", "POST /v1/admin/merchants/{id}/api_keys/revoke_all", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_missing/api_keys/revoke_all"}, nil, nil, nil, 404},
		{"revoke all keys/no token", "POST /v1/admin/merchants/{id}/api_keys/revoke_all", oaCall{auth: "-", path: "/v1/admin/merchants/mer_missing/api_keys/revoke_all"}, nil, nil, nil, 401},
		{"create payment", createPayment, oaCall{idemKey: "k1", body: card}, nil, nil, nil, 200},
		{"create payment/replay", createPayment, oaCall{idemKey: "k1", body: card}, replayed, nil, nil, 200},
		{"create payment/outcome unknown", createPayment, oaCall{idemKey: "k1", body: card}, unknown, nil, nil, 202},
		{"create payment/declined", createPayment, oaCall{idemKey: "k1", body: card}, storedError(declined), nil, nil, 402},
		{"create payment/key in use", createPayment, oaCall{idemKey: "k1", body: card}, failing(inUse), nil, nil, 409},
		{"create payment/key reused", createPayment, oaCall{idemKey: "k1", body: card}, failing(reused), nil, nil, 422},
		{"create payment/internal", createPayment, oaCall{idemKey: "k1", body: card}, failing(errors.New("boom")), nil, nil, 500},
		{"create payment/no key", createPayment, oaCall{body: card}, nil, nil, nil, 400},
		{"create payment/bad card number", createPayment, oaCall{idemKey: "k1", body: strings.Replace(card, "4242 4242 4242 4242", "4242424242424241", 1)}, nil, nil, nil, 400},
		{"create payment/no API key", createPayment, oaCall{auth: "-", body: card}, nil, nil, nil, 401},
		{"list payments", "GET /v1/payments", oaCall{path: "/v1/payments?limit=2"}, nil, nil, nil, 200},
		{"list refunds", "GET /v1/refunds", oaCall{path: "/v1/refunds?limit=2&payment=pay_us-east_x&starting_after=re_us-east_y"}, nil, nil, nil, 200},
		{"list refunds/unknown parameter", "GET /v1/refunds", oaCall{path: "/v1/refunds?status=succeeded"}, nil, nil, nil, 400},
		{"list refunds/bad payment", "GET /v1/refunds", oaCall{path: "/v1/refunds?payment=x%00"}, nil, nil, nil, 400},
		{"list refunds/unknown cursor", "GET /v1/refunds", oaCall{path: "/v1/refunds?starting_after=re_us-east_x"}, nil, core.ParamError(core.CodeNotFound, "starting_after", "No such refund."), nil, 404},
		{"list payments/bad limit", "GET /v1/payments", oaCall{path: "/v1/payments?limit=0"}, nil, nil, nil, 400},
		{"list payments/unknown cursor", "GET /v1/payments", oaCall{path: "/v1/payments?starting_after=pay_x"}, nil, core.ParamError(core.CodeNotFound, "starting_after", "No such payment."), nil, 404},
		{"get payment", "GET /v1/payments/{id}", oaCall{}, nil, nil, nil, 200},
		{"get payment/not found", "GET /v1/payments/{id}", oaCall{}, nil, notFound, nil, 404},
		{"capture", capture, oaCall{idemKey: "k2", body: `{"amount":1500}`}, nil, nil, nil, 200},
		{"capture/everything", capture, oaCall{idemKey: "k2"}, nil, nil, nil, 200},
		{"capture/outcome unknown", capture, oaCall{idemKey: "k2"}, unknown, nil, nil, 202},
		{"capture/too much", capture, oaCall{idemKey: "k2", body: `{"amount":999999}`}, storedError(&core.Error{Code: core.CodeAmountTooLarge, Param: "amount", Message: "too much"}), nil, nil, 400},
		{"capture/wrong state", capture, oaCall{idemKey: "k2"}, storedError(invalidState), nil, nil, 422},
		{"capture/channel refused", capture, oaCall{idemKey: "k2"}, storedError(&core.Error{Code: core.CodeProcessingError, Message: "no", PaymentID: "pay_us-east_x"}), nil, nil, 402},
		{"capture/not found", capture, oaCall{idemKey: "k2"}, storedError(notFound), nil, nil, 404},
		{"capture/key in use", capture, oaCall{idemKey: "k2"}, failing(inUse), nil, nil, 409},
		{"cancel", cancel, oaCall{idemKey: "k3", body: `{"cancellation_reason":"changed mind"}`}, nil, nil, nil, 200},
		{"cancel/replay", cancel, oaCall{idemKey: "k3"}, replayed, nil, nil, 200},
		{"cancel/outcome unknown", cancel, oaCall{idemKey: "k3"}, unknown, nil, nil, 202},
		{"cancel/wrong state", cancel, oaCall{idemKey: "k3"}, storedError(invalidState), nil, nil, 422},
		{"cancel/key reused", cancel, oaCall{idemKey: "k3"}, failing(reused), nil, nil, 422},
		{"refund", createRefund, oaCall{idemKey: "k4", body: refund}, nil, nil, nil, 200},
		{"refund/replay", createRefund, oaCall{idemKey: "k4", body: refund}, replayed, nil, nil, 200},
		{"refund/outcome unknown", createRefund, oaCall{idemKey: "k4", body: refund}, unknown, nil, nil, 202},
		{"refund/too much", createRefund, oaCall{idemKey: "k4", body: refund}, storedError(&core.Error{Code: core.CodeAmountTooLarge, Param: "amount", PaymentID: "pay_us-east_x", Message: "too much"}), nil, nil, 400},
		{"refund/no payment", createRefund, oaCall{idemKey: "k4", body: `{}`}, nil, nil, nil, 400},
		{"refund/unknown payment", createRefund, oaCall{idemKey: "k4", body: refund}, storedError(core.ParamError(core.CodeNotFound, "payment", "No such payment.")), nil, nil, 404},
		{"refund/not refundable", createRefund, oaCall{idemKey: "k4", body: refund}, storedError(invalidState), nil, nil, 422},
		{"refund/key in use", createRefund, oaCall{idemKey: "k4", body: refund}, failing(inUse), nil, nil, 409},
		{"get refund", "GET /v1/refunds/{id}", oaCall{}, nil, nil, nil, 200},
		{"get refund/not found", "GET /v1/refunds/{id}", oaCall{}, nil, core.ParamError(core.CodeNotFound, "id", "No such refund."), nil, 404},
		{"balance", "GET /v1/balance", oaCall{}, nil, nil, nil, 200},
		{"balance/internal", "GET /v1/balance", oaCall{}, nil, errors.New("boom"), nil, 500},
		{"balance transactions", "GET /v1/balance_transactions", oaCall{path: "/v1/balance_transactions?type=payment&available_on[gte]=1700000000&limit=5"}, nil, nil, nil, 200},
		{"balance transactions/bad type", "GET /v1/balance_transactions", oaCall{path: "/v1/balance_transactions?type=gift"}, nil, nil, nil, 400},
		{"set fees", "POST /v1/admin/merchants/{id}/fees", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/fees", body: `{"channel":"card","percent_bps":290,"fixed":30,"refund_fees":true}`}, nil, nil, nil, 200},
		{"set fees/negative", "POST /v1/admin/merchants/{id}/fees", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/fees", body: `{"percent_bps":-1}`}, nil, nil, nil, 400},
		{"set platform fees", "POST /v1/admin/fees", oaCall{auth: oaAdminToken, body: `{"percent_bps":250}`}, nil, nil, nil, 200},
		{"get kyc", "GET /v1/merchant/kyc", oaCall{}, nil, nil, nil, 200},
		{"submit kyc", "POST /v1/merchant/kyc", oaCall{body: `{"legal_name":"Acme GmbH","registration_number":"HRB 12345","country":"DE","address":{"line1":"Unter den Linden 1","city":"Berlin","postal_code":"10117"},"representative":{"name":"Erika Mustermann","id_number":"T22000129","date_of_birth":"1980-05-17","phone":"+4930123456"},"bank_account":{"holder_name":"Acme GmbH","account_number":"0532013000","bank_code":"37040044","currency":"EUR"}}`}, nil, nil, nil, 200},
		{"submit kyc/too young", "POST /v1/merchant/kyc", oaCall{body: `{"legal_name":"Acme GmbH","registration_number":"HRB 12345","country":"DE","address":{"line1":"Unter den Linden 1","city":"Berlin","postal_code":"10117"},"representative":{"name":"Erika Mustermann","id_number":"T22000129","date_of_birth":"2011-05-17","phone":"+4930123456"},"bank_account":{"holder_name":"Acme GmbH","account_number":"0532013000","bank_code":"37040044","currency":"EUR"}}`}, nil, nil, nil, 400},
		{"admin kyc", "GET /v1/admin/merchants/{id}/kyc", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/kyc"}, nil, nil, nil, 200},
		{"admin kyc/unknown merchant", "GET /v1/admin/merchants/{id}/kyc", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_missing/kyc"}, nil, nil, nil, 404},
		{"approve kyc", "POST /v1/admin/merchants/{id}/kyc/approve", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/kyc/approve"}, nil, nil, nil, 200},
		{"approve kyc/not pending", "POST /v1/admin/merchants/{id}/kyc/approve", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/kyc/approve"}, nil, core.Errorf(core.CodeInvalidState, "not pending"), nil, 422},
		{"reject kyc", "POST /v1/admin/merchants/{id}/kyc/reject", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/kyc/reject", body: `{"reason":"documents unreadable"}`}, nil, nil, nil, 200},
		{"reject kyc/no reason", "POST /v1/admin/merchants/{id}/kyc/reject", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/kyc/reject", body: `{}`}, nil, nil, nil, 400},
		{"create transfer", "POST /v1/transfers", oaCall{idemKey: "t1", body: `{"amount":500,"currency":"USD","destination":"mer_us-east_y","description":"split"}`}, nil, nil, nil, 200},
		{"create transfer/negative", "POST /v1/transfers", oaCall{idemKey: "t1", body: `{"amount":-5,"currency":"USD","destination":"mer_us-east_y"}`}, nil, nil, nil, 400},
		{"create transfer/too much", "POST /v1/transfers", oaCall{idemKey: "t1", body: `{"amount":99999,"currency":"USD","destination":"mer_us-east_y"}`}, nil, nil, nil, 400},
		{"create transfer/unknown destination", "POST /v1/transfers", oaCall{idemKey: "t1", body: `{"amount":5,"currency":"USD","destination":"mer_missing"}`}, nil, nil, nil, 404},
		{"get transfer", "GET /v1/transfers/{id}", oaCall{path: "/v1/transfers/tr_us-east_x"}, nil, nil, nil, 200},
		{"reverse transfer", "POST /v1/transfers/{id}/reversals", oaCall{idemKey: "t2", path: "/v1/transfers/tr_us-east_x/reversals", body: `{"amount":100}`}, nil, nil, nil, 200},
		{"reverse transfer/all", "POST /v1/transfers/{id}/reversals", oaCall{idemKey: "t2", path: "/v1/transfers/tr_us-east_x/reversals"}, nil, nil, nil, 200},
		{"allow transfers", "POST /v1/admin/merchants/{id}/transfers_allowed", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/transfers_allowed", body: `{"allowed":true}`}, nil, nil, nil, 200},
		{"allow transfers/missing", "POST /v1/admin/merchants/{id}/transfers_allowed", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/transfers_allowed", body: `{}`}, nil, nil, nil, 400},
		{"adjustment", "POST /v1/admin/adjustments", oaCall{auth: oaAdminToken, body: `{"merchant":"mer_us-east_x","amount":-300,"currency":"USD","reason":"chargeback fee","allow_negative":true}`}, nil, nil, nil, 200},
		{"adjustment/no reason", "POST /v1/admin/adjustments", oaCall{auth: oaAdminToken, body: `{"merchant":"mer_us-east_x","amount":300,"currency":"USD","reason":""}`}, nil, nil, nil, 400},
		{"list settlements", "GET /v1/settlements", oaCall{path: "/v1/settlements?limit=5"}, nil, nil, nil, 200},
		{"list settlements/bad limit", "GET /v1/settlements", oaCall{path: "/v1/settlements?limit=0"}, nil, nil, nil, 400},
		{"get settlement", "GET /v1/settlements/{id}", oaCall{path: "/v1/settlements/st_us-east_x"}, nil, nil, nil, 200},
		{"get settlement/not found", "GET /v1/settlements/{id}", oaCall{path: "/v1/settlements/st_us-east_x"}, nil, core.ParamError(core.CodeNotFound, "id", "No such settlement."), nil, 404},
		{"settlement lines", "GET /v1/settlements/{id}/lines.csv", oaCall{path: "/v1/settlements/st_us-east_x/lines.csv"}, nil, nil, nil, 200},
		{"export payments", "GET /v1/exports/payments.csv", oaCall{path: "/v1/exports/payments.csv?created[gte]=1769817600&created[lt]=2026-02-01T00:00:00Z&status=succeeded&channel=card&merchant_reference=order-1"}, nil, nil, nil, 200},
		{"export payments/bad status", "GET /v1/exports/payments.csv", oaCall{path: "/v1/exports/payments.csv?status=paid"}, nil, nil, nil, 400},
		{"export payments/unknown parameter", "GET /v1/exports/payments.csv", oaCall{path: "/v1/exports/payments.csv?amount=1"}, nil, nil, nil, 400},
		{"export payments/no key", "GET /v1/exports/payments.csv", oaCall{path: "/v1/exports/payments.csv", auth: "-"}, nil, nil, nil, 401},
		{"export refunds", "GET /v1/exports/refunds.csv", oaCall{path: "/v1/exports/refunds.csv?created[gte]=1769817600"}, nil, nil, nil, 200},
		{"export refunds/status refused", "GET /v1/exports/refunds.csv", oaCall{path: "/v1/exports/refunds.csv?status=succeeded"}, nil, nil, nil, 400},
		{"export balance transactions", "GET /v1/exports/balance_transactions.csv", oaCall{path: "/v1/exports/balance_transactions.csv?created[lt]=1769817600"}, nil, nil, nil, 200},
		{"export settlements", "GET /v1/exports/settlements.csv", oaCall{path: "/v1/exports/settlements.csv"}, nil, nil, nil, 200},
		{"export settlements/bad time", "GET /v1/exports/settlements.csv", oaCall{path: "/v1/exports/settlements.csv?created[gte]=yesterday"}, nil, nil, nil, 400},
		{"create operator", "POST /v1/admin/console_users", oaCall{auth: oaAdminToken, body: `{"email":"ops@example.com","password":"correct horse battery staple","role":"operator"}`}, nil, nil, nil, 200},
		{"create operator/short password", "POST /v1/admin/console_users", oaCall{auth: oaAdminToken, body: `{"email":"ops@example.com","password":"short","role":"operator"}`}, nil, nil, nil, 400},
		{"create operator/no token", "POST /v1/admin/console_users", oaCall{auth: "-", body: `{"email":"ops@example.com","password":"correct horse battery staple","role":"operator"}`}, nil, nil, nil, 401},
		{"create merchant user", "POST /v1/console_users", oaCall{body: `{"email":"owner@shop.example","password":"correct horse battery staple","role":"owner"}`}, nil, nil, nil, 200},
		{"create merchant user/operator role", "POST /v1/console_users", oaCall{body: `{"email":"owner@shop.example","password":"correct horse battery staple","role":"operator"}`}, nil, nil, nil, 400},
		{"create merchant user/other merchant", "POST /v1/console_users", oaCall{body: `{"email":"owner@shop.example","password":"correct horse battery staple","role":"owner","merchant":"mer_us-east_other"}`}, nil, nil, nil, 400},
		{"set settlement terms", "POST /v1/admin/merchants/{id}/settlement_terms", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/settlement_terms", body: `{"delay_days":1,"time_zone":"Asia/Shanghai"}`}, nil, nil, nil, 200},
		{"set settlement terms/bad zone", "POST /v1/admin/merchants/{id}/settlement_terms", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/settlement_terms", body: `{"time_zone":"Mars/Olympus"}`}, nil, nil, nil, 400},
		{"list channels", "GET /v1/admin/merchants/{id}/channels", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/channels"}, nil, nil, nil, 200},
		{"list channels/unknown merchant", "GET /v1/admin/merchants/{id}/channels", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_missing/channels"}, nil, nil, nil, 404},
		{"set channel", "POST /v1/admin/merchants/{id}/channels/{channel}", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/channels/alipay", body: `{"enabled":true,"credentials":{"app_id":"2021"}}`}, nil, nil, nil, 200},
		{"set channel/no enabled", "POST /v1/admin/merchants/{id}/channels/{channel}", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/channels/alipay", body: `{}`}, nil, nil, nil, 400},
		{"review settlements", "GET /v1/admin/settlements", oaCall{auth: oaAdminToken, path: "/v1/admin/settlements?reconciliation=mismatch&limit=20"}, nil, nil, nil, 200},
		{"review settlements/bad state", "GET /v1/admin/settlements", oaCall{auth: oaAdminToken, path: "/v1/admin/settlements?reconciliation=maybe"}, nil, nil, nil, 400},
		{"kyc queue", "GET /v1/admin/kyc", oaCall{auth: oaAdminToken, path: "/v1/admin/kyc?status=pending&limit=50"}, nil, nil, nil, 200},
		{"kyc queue/bad status", "GET /v1/admin/kyc", oaCall{auth: oaAdminToken, path: "/v1/admin/kyc?status=waiting"}, nil, nil, nil, 400},
		{"list fees", "GET /v1/admin/merchants/{id}/fees", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/fees"}, nil, nil, nil, 200},
		{"list fees/unknown merchant", "GET /v1/admin/merchants/{id}/fees", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_missing/fees"}, nil, nil, nil, 404},
		{"list platform fees", "GET /v1/admin/fees", oaCall{auth: oaAdminToken}, nil, nil, nil, 200},
		{"create payout", "POST /v1/payouts", oaCall{idemKey: "p1", body: `{"amount":50000,"currency":"EUR","description":"November takings"}`}, nil, nil, nil, 200},
		{"create payout/replay", "POST /v1/payouts", oaCall{idemKey: "p1", body: `{"amount":50000,"currency":"EUR"}`}, replayed, nil, nil, 200},
		{"create payout/outcome unknown", "POST /v1/payouts", oaCall{idemKey: "p1", body: `{"amount":50000,"currency":"EUR"}`}, unknown, nil, nil, 202},
		{"create payout/negative", "POST /v1/payouts", oaCall{idemKey: "p1", body: `{"amount":-5,"currency":"EUR"}`}, nil, nil, nil, 400},
		{"create payout/no currency", "POST /v1/payouts", oaCall{idemKey: "p1", body: `{"amount":5}`}, nil, nil, nil, 400},
		{"create payout/too much", "POST /v1/payouts", oaCall{idemKey: "p1", body: `{"amount":100001,"currency":"EUR"}`}, nil, nil, nil, 400},
		{"create payout/unverified", "POST /v1/payouts", oaCall{idemKey: "p1", body: `{"amount":5,"currency":"EUR","description":"unverified"}`}, nil, nil, nil, 403},
		{"create payout/key in use", "POST /v1/payouts", oaCall{idemKey: "p1", body: `{"amount":5,"currency":"EUR"}`}, failing(inUse), nil, nil, 409},
		{"create payout/key reused", "POST /v1/payouts", oaCall{idemKey: "p1", body: `{"amount":5,"currency":"EUR"}`}, failing(reused), nil, nil, 422},
		{"list payouts", "GET /v1/payouts", oaCall{path: "/v1/payouts?status=paid&limit=5"}, nil, nil, nil, 200},
		{"list payouts/bad status", "GET /v1/payouts", oaCall{path: "/v1/payouts?status=lost"}, nil, nil, nil, 400},
		{"get payout", "GET /v1/payouts/{id}", oaCall{path: "/v1/payouts/po_us-east_x"}, nil, nil, nil, 200},
		{"get payout/another merchant's", "GET /v1/payouts/{id}", oaCall{path: "/v1/payouts/po_us-east_y"}, nil, core.ParamError(core.CodeNotFound, "id", "No such payout."), nil, 404},
		{"get payout schedule", "GET /v1/merchant/payout_schedule", oaCall{}, nil, nil, nil, 200},
		{"set payout schedule", "POST /v1/merchant/payout_schedule", oaCall{body: `{"interval":"weekly","weekly_anchor":"friday","delay_days":1}`}, nil, nil, nil, 200},
		{"set payout schedule/bad interval", "POST /v1/merchant/payout_schedule", oaCall{body: `{"interval":"hourly"}`}, nil, nil, nil, 400},
		{"admin payout schedule", "GET /v1/admin/merchants/{id}/payout_schedule", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/payout_schedule"}, nil, nil, nil, 200},
		{"admin set payout schedule", "POST /v1/admin/merchants/{id}/payout_schedule", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/payout_schedule", body: `{"interval":"daily"}`}, nil, nil, nil, 200},
		{"admin set payout schedule/bad delay", "POST /v1/admin/merchants/{id}/payout_schedule", oaCall{auth: oaAdminToken, path: "/v1/admin/merchants/mer_us-east_x/payout_schedule", body: `{"interval":"daily","delay_days":31}`}, nil, nil, nil, 400},
		{"reconcile", "POST /v1/admin/reconciliations", oaCall{auth: oaAdminToken, body: `{"channel":"card","date":"2026-11-25"}`}, nil, nil, nil, 200},
		{"reconcile/bad date", "POST /v1/admin/reconciliations", oaCall{auth: oaAdminToken, body: `{"channel":"card","date":"25/11/2026"}`}, nil, nil, nil, 400},
		{"notification", "POST /v1/notifications/{channel}", oaCall{auth: "-", path: "/v1/notifications/alipay", body: `{}`, header: "good"}, nil, nil, nil, 200},
		{"notification/forged", "POST /v1/notifications/{channel}", oaCall{auth: "-", path: "/v1/notifications/alipay", body: `{}`, header: "forged"}, nil, nil, nil, 401},
		{"notification/no parser", "POST /v1/notifications/{channel}", oaCall{auth: "-", path: "/v1/notifications/card", body: `{}`}, nil, nil, nil, 404},
		{"alerts", "GET /v1/admin/alerts", oaCall{auth: oaAdminToken, path: "/v1/admin/alerts?status=firing&limit=5"}, nil, nil, nil, 200},
		{"alerts/bad status", "GET /v1/admin/alerts", oaCall{auth: oaAdminToken, path: "/v1/admin/alerts?status=open"}, nil, nil, nil, 400},
		{"alerts/no token", "GET /v1/admin/alerts", oaCall{auth: "-"}, nil, nil, nil, 401},
		{"alertmanager", "POST /v1/admin/alertmanager", oaCall{auth: oaAdminToken, body: oaAlertmanagerBody}, nil, nil, nil, 200},
		{"alertmanager/other version", "POST /v1/admin/alertmanager", oaCall{auth: oaAdminToken, body: strings.Replace(oaAlertmanagerBody, `"4"`, `"3"`, 1)}, nil, nil, nil, 400},
		{"alertmanager/unknown field", "POST /v1/admin/alertmanager", oaCall{auth: oaAdminToken, body: `{"version":"4","alerts":[],"x":1}`}, nil, nil, nil, 400},
		{"create webhook endpoint", "POST /v1/webhook_endpoints", oaCall{body: `{"url":"https://shop.example/hooks","enabled_events":["*"]}`}, nil, nil, nil, 200},
		{"create webhook endpoint/bad url", "POST /v1/webhook_endpoints", oaCall{body: `{"url":"ftp://shop.example","enabled_events":["*"]}`}, nil, nil, nil, 400},
		{"create webhook endpoint/unknown event", "POST /v1/webhook_endpoints", oaCall{body: `{"url":"https://shop.example","enabled_events":["payment.exploded"]}`}, nil, nil, nil, 400},
		{"list webhook endpoints", "GET /v1/webhook_endpoints", oaCall{path: "/v1/webhook_endpoints?limit=5"}, nil, nil, nil, 200},
		{"list webhook endpoints/unknown start", "GET /v1/webhook_endpoints", oaCall{path: "/v1/webhook_endpoints?starting_after=we_missing"}, nil, nil, nil, 404},
		{"get webhook endpoint", "GET /v1/webhook_endpoints/{id}", oaCall{path: "/v1/webhook_endpoints/we_us-east_x"}, nil, nil, nil, 200},
		{"get webhook endpoint/not found", "GET /v1/webhook_endpoints/{id}", oaCall{path: "/v1/webhook_endpoints/we_missing"}, nil, nil, nil, 404},
		{"update webhook endpoint", "POST /v1/webhook_endpoints/{id}", oaCall{path: "/v1/webhook_endpoints/we_us-east_x", body: `{"disabled":false}`}, nil, nil, nil, 200},
		{"update webhook endpoint/unknown field", "POST /v1/webhook_endpoints/{id}", oaCall{path: "/v1/webhook_endpoints/we_us-east_x", body: `{"status":"on"}`}, nil, nil, nil, 400},
		{"delete webhook endpoint", "DELETE /v1/webhook_endpoints/{id}", oaCall{path: "/v1/webhook_endpoints/we_us-east_x"}, nil, nil, nil, 200},
		{"delete webhook endpoint/not found", "DELETE /v1/webhook_endpoints/{id}", oaCall{path: "/v1/webhook_endpoints/we_missing"}, nil, nil, nil, 404},
		{"rotate webhook secret", "POST /v1/webhook_endpoints/{id}/rotate_secret", oaCall{path: "/v1/webhook_endpoints/we_us-east_x/rotate_secret", body: `{"expire_current_in":3600}`}, nil, nil, nil, 200},
		{"rotate webhook secret/too long", "POST /v1/webhook_endpoints/{id}/rotate_secret", oaCall{path: "/v1/webhook_endpoints/we_us-east_x/rotate_secret", body: `{"expire_current_in":86401}`}, nil, nil, nil, 400},
		{"list events", "GET /v1/events", oaCall{path: "/v1/events?type=payment.succeeded&delivery_success=false&created[gte]=1700000000"}, nil, nil, nil, 200},
		{"list events/unknown type", "GET /v1/events", oaCall{path: "/v1/events?type=payment.exploded"}, nil, nil, nil, 400},
		{"get event", "GET /v1/events/{id}", oaCall{path: "/v1/events/evt_us-east_x"}, nil, nil, nil, 200},
		{"get event/not found", "GET /v1/events/{id}", oaCall{path: "/v1/events/evt_missing"}, nil, nil, nil, 404},
		{"event deliveries", "GET /v1/events/{id}/deliveries", oaCall{path: "/v1/events/evt_us-east_x/deliveries"}, nil, nil, nil, 200},
		{"event deliveries/internal", "GET /v1/events/{id}/deliveries", oaCall{path: "/v1/events/evt_us-east_x/deliveries"}, nil, errors.New("boom"), nil, 500},
		{"redeliver event", "POST /v1/events/{id}/redeliver", oaCall{path: "/v1/events/evt_us-east_x/redeliver", body: `{"endpoint":"we_us-east_x"}`}, nil, nil, nil, 200},
		{"redeliver event/no endpoint", "POST /v1/events/{id}/redeliver", oaCall{path: "/v1/events/evt_us-east_x/redeliver", body: `{}`}, nil, nil, nil, 400},
		{"redeliver event/unknown endpoint", "POST /v1/events/{id}/redeliver", oaCall{path: "/v1/events/evt_us-east_x/redeliver", body: `{"endpoint":"we_missing"}`}, nil, nil, nil, 404},
		{"notification settings", "GET /v1/notification_settings", oaCall{}, nil, nil, nil, 200},
		{"set notification settings", "POST /v1/notification_settings", oaCall{body: `{"notices":{"payment_failed":{"sms":false}},"low_balance_threshold":{"cny":100},"sender_name":"","reply_to":"a@b.example","default_language":"zh","top_up_reminder":{"interval_days":0}}`}, nil, nil, nil, 200},
		{"set notification settings/unknown notice", "POST /v1/notification_settings", oaCall{body: `{"notices":{"verification_code":{"sms":false}}}`}, nil, nil, nil, 400},
		{"notification template", "GET /v1/notification_templates/{name}", oaCall{path: "/v1/notification_templates/low_balance?language=zh"}, nil, nil, nil, 200},
		{"notification template/no language", "GET /v1/notification_templates/{name}", oaCall{path: "/v1/notification_templates/low_balance"}, nil, nil, nil, 400},
		{"notification template/unknown", "GET /v1/notification_templates/{name}", oaCall{path: "/v1/notification_templates/nope?language=en"}, nil, nil, nil, 404},
		{"set notification template", "PUT /v1/notification_templates/{name}", oaCall{path: "/v1/notification_templates/low_balance", body: `{"language":"en","subject":"Low","text":"Top up.","html":"<p>Top up.</p>"}`}, nil, nil, nil, 200},
		{"set notification template/broken", "PUT /v1/notification_templates/{name}", oaCall{path: "/v1/notification_templates/low_balance", body: `{"language":"en","subject":"{{","text":"x"}`}, nil, nil, nil, 400},
		{"set notification template/unknown", "PUT /v1/notification_templates/{name}", oaCall{path: "/v1/notification_templates/nope", body: `{"language":"en","subject":"s","text":"x"}`}, nil, nil, nil, 404},
		{"delete notification template", "DELETE /v1/notification_templates/{name}", oaCall{path: "/v1/notification_templates/low_balance?language=en"}, nil, nil, nil, 200},
	}
	succeeded := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, _ := strings.Cut(tt.route, " ")
			call := tt.call
			call.method = method
			if call.path == "" {
				call.path = strings.ReplaceAll(path, "{id}", "pay_us-east_x")
			}
			switch {
			case call.auth == "-":
				call.auth = ""
			case call.auth == "" && strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, "/v1/admin/"):
				call.auth = oaSecretKey
			}
			s := oaServer(t, &oaPayments{money: tt.money, err: tt.err}, oaOps{pingErr: tt.ping})
			w := call.do(t, s)
			if w.Code != tt.want {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if w.Code < 300 {
				succeeded[tt.route] = true
			}
			oaCheckResponse(t, oaOperation(t, doc, tt.route), w)
		})
	}
	for _, route := range oaServer(t, nil, oaOps{}).Routes() {
		if !succeeded[route] {
			t.Errorf("route %s has no successful scenario in this test", route)
		}
	}
}

// oaCheckResponse validates an answer against an operation of the document.
func oaCheckResponse(t *testing.T, op *openapi3.Operation, w *httptest.ResponseRecorder) {
	t.Helper()
	ref := op.Responses.Status(w.Code)
	if ref == nil || ref.Value == nil {
		t.Fatalf("status %d is not documented for %s (body %s)", w.Code, op.OperationID, w.Body)
	}
	resp := ref.Value
	if ct := w.Header().Get("Content-Type"); ct == "text/csv; charset=utf-8" {
		// A CSV download (a settlement's lines): documented as such, with a header row.
		if resp.Content.Get("text/csv") == nil {
			t.Fatalf("%s %d sends CSV, the document does not say so", op.OperationID, w.Code)
		}
		if _, err := csv.NewReader(bytes.NewReader(w.Body.Bytes())).ReadAll(); err != nil || w.Body.Len() == 0 {
			t.Fatalf("%s %d: not CSV: %v", op.OperationID, w.Code, err)
		}
		return
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	mt := resp.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		t.Fatalf("%s %d documents no application/json body", op.OperationID, w.Code)
	}
	var body any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, w.Body)
	}
	if err := mt.Schema.Value.VisitJSON(body, openapi3.MultiErrors()); err != nil {
		t.Errorf("%s %d: body does not match its schema: %v\nbody: %s", op.OperationID, w.Code, err, w.Body)
	}
	for _, h := range []string{"Request-Id", "Idempotent-Replayed", "Retry-After", "Cache-Control", "WWW-Authenticate"} {
		if w.Header().Get(h) != "" && resp.Headers[h] == nil {
			t.Errorf("%s %d: the server sends %s but the document does not declare it", op.OperationID, w.Code, h)
		}
	}
	for name, href := range resp.Headers {
		hv := href.Value
		got := w.Header().Get(name)
		if got == "" {
			if hv.Required {
				t.Errorf("%s %d: required header %s is missing", op.OperationID, w.Code, name)
			}
			continue
		}
		var v any = got
		if hv.Schema.Value.Type.Is(openapi3.TypeInteger) {
			n, err := strconv.Atoi(got)
			if err != nil {
				t.Errorf("header %s = %q is not an integer", name, got)
				continue
			}
			v = float64(n)
		}
		if err := hv.Schema.Value.VisitJSON(v); err != nil {
			t.Errorf("header %s = %q does not match its schema: %v", name, got, err)
		}
	}
}

// Every documented path answers a method the document does not give it with 405 and an Allow
// header naming exactly the documented methods; unclean forms of it are 404, never redirects.
func TestOpenAPIMethodsAndAllow(t *testing.T) {
	doc := loadOpenAPI(t)
	s := oaServer(t, &oaPayments{}, oaOps{})
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		var methods []string
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		concrete := strings.NewReplacer("{id}", "pay_us-east_x", "{channel}", "card").Replace(path)
		t.Run(path, func(t *testing.T) {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
				if slices.Contains(methods, m) {
					continue
				}
				w := oaCall{method: m, path: concrete, auth: oaSecretKey}.do(t, s)
				if w.Code != http.StatusMethodNotAllowed || oaErrorCode(t, w) != core.CodeMethodNotAllowed {
					t.Fatalf("%s %s: %d %s, want 405", m, concrete, w.Code, w.Body)
				}
				allow := strings.Split(w.Header().Get("Allow"), ", ")
				sort.Strings(allow)
				if !slices.Equal(allow, methods) {
					t.Errorf("%s %s: Allow %v, documented methods %v", m, concrete, allow, methods)
				}
			}
			if path == "/healthz" || path == "/readyz" {
				return
			}
			for _, unclean := range []string{strings.Replace(concrete, "/v1/", "/v1//", 1), strings.Replace(concrete, "/v1/", "/v1/./", 1), concrete + "/"} {
				w := oaCall{method: methods[0], path: unclean, auth: oaSecretKey}.do(t, s)
				if w.Code != http.StatusNotFound || w.Header().Get("Location") != "" || oaErrorCode(t, w) != core.CodeNotFound {
					t.Errorf("%s %s: %d %v, want a JSON 404", methods[0], unclean, w.Code, w.Header())
				}
			}
		})
	}
}

// Every route that documents no query parameters refuses any, with a documented 400.
func TestOpenAPIQueryParametersRefused(t *testing.T) {
	doc := loadOpenAPI(t)
	s := oaServer(t, &oaPayments{}, oaOps{})
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			takesQuery := false
			for _, p := range op.Parameters {
				takesQuery = takesQuery || p.Value.In == openapi3.ParameterInQuery
			}
			if takesQuery || path == "/healthz" || path == "/readyz" || strings.HasPrefix(path, "/v1/notifications/") {
				continue
			}
			concrete := strings.NewReplacer("{id}", "pay_us-east_x", "{channel}", "card").Replace(path)
			auth := oaSecretKey
			if strings.HasPrefix(path, "/v1/admin/") {
				auth = oaAdminToken
			}
			w := oaCall{method: method, path: concrete + "?expand=x", auth: auth, idemKey: "k1"}.do(t, s)
			if w.Code != http.StatusBadRequest || oaErrorCode(t, w) != core.CodeParameterUnknown {
				t.Errorf("%s %s?expand=x: %d %s, want 400 parameter_unknown", method, path, w.Code, w.Body)
				continue
			}
			oaCheckResponse(t, op, w)
		}
	}
}
