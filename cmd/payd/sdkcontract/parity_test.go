package sdkcontract

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/core"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// jsonFields describes how t is written as JSON: every exported field's JSON name with
// its omitempty and a coarse kind ("string", "int", "*struct", "[]struct", ...), so that a
// field added, renamed or retyped on one side only is caught.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, name+" "+opts+" "+kind(f.Type))
	}
	sort.Strings(out)
	return out
}

func kind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + kind(t.Elem())
	case reflect.Slice:
		return "[]" + kind(t.Elem())
	case reflect.Map:
		return "map[" + kind(t.Key()) + "]" + kind(t.Elem())
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "int"
	case reflect.Struct:
		if t.PkgPath() == "time" {
			return t.String()
		}
		return "struct"
	}
	return t.Kind().String()
}

// TestTypesMatchTheDomain checks that every type the SDK declares for the API is written
// and read as the domain's type is.
func TestTypesMatchTheDomain(t *testing.T) {
	for _, tc := range []struct{ sdk, core any }{
		{paysdk.Payment{}, core.Payment{}},
		{paysdk.Customer{}, core.Customer{}},
		{paysdk.PaymentMethod{}, core.PaymentMethod{}},
		{paysdk.NextAction{}, core.NextAction{}},
		{paysdk.Refund{}, core.Refund{}},
		{paysdk.Merchant{}, core.Merchant{}},
		{paysdk.Balance{}, core.Balance{}},
		{paysdk.CurrencyTotal{}, core.CurrencyTotal{}},
		{paysdk.List[*paysdk.Payment]{}, core.List[*core.Payment]{}},
		{paysdk.CreatePaymentParams{}, core.CreatePaymentParams{}},
		{paysdk.PaymentMethodData{}, core.PaymentMethodData{}},
		{paysdk.CardData{}, core.CardData{}},
		{paysdk.CaptureParams{}, core.CaptureParams{}},
		{paysdk.CancelParams{}, core.CancelParams{}},
		{paysdk.CreateRefundParams{}, core.CreateRefundParams{}},
		{paysdk.PaymentFilter{}, core.PaymentFilter{}},
		{paysdk.RefundFilter{}, core.RefundFilter{}},
		{paysdk.APIKey{}, core.APIKey{}},
		{paysdk.List[paysdk.APIKey]{}, core.List[core.APIKey]{}},
		{paysdk.LedgerReport{}, core.LedgerReport{}},
		{paysdk.ChannelAuthorization{}, core.ChannelAuthorization{}},
		{paysdk.ReconciliationReport{}, core.ReconciliationReport{}},
		{paysdk.ReconciliationLine{}, core.ReconciliationLine{}},
		{paysdk.ReconciliationMismatch{}, core.ReconciliationMismatch{}},
		{paysdk.WebhookEndpoint{}, core.WebhookEndpoint{}},
		{paysdk.WebhookEndpointParams{}, core.CreateWebhookEndpointParams{}},
		{paysdk.WebhookDelivery{}, core.WebhookDelivery{}},
		{paysdk.Event{}, core.Event{}},
		{paysdk.NotificationSettings{}, core.NotificationSettings{}},
		{paysdk.TopUpReminder{}, core.TopUpReminder{}},
		{paysdk.NotificationTemplate{}, core.NotificationTemplate{}},
		{paysdk.Payout{}, core.Payout{}},
		{paysdk.PayoutDestination{}, core.PayoutDestination{}},
		{paysdk.CreatePayoutParams{}, core.CreatePayoutParams{}},
		{paysdk.PayoutSchedule{}, core.PayoutSchedule{}},
		{paysdk.PayoutScheduleParams{}, core.PayoutScheduleParams{}},
		{paysdk.Settlement{}, core.Settlement{}},
		{paysdk.PayoutFilter{}, core.PayoutFilter{}},
		{paysdk.SettlementFilter{}, core.SettlementFilter{}},
	} {
		st, ct := reflect.TypeOf(tc.sdk), reflect.TypeOf(tc.core)
		t.Run(st.Name(), func(t *testing.T) {
			got, want := jsonFields(st), jsonFields(ct)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("paysdk.%s has JSON fields\n  %q\nbut core.%s has\n  %q", st.Name(), got, ct.Name(), want)
			}
		})
	}
}

// TestConstantsMatchTheDomain checks the SDK's copies of the domain's names.
func TestConstantsMatchTheDomain(t *testing.T) {
	for _, tc := range []struct{ sdk, core string }{
		{string(paysdk.ChannelCard), string(core.ChannelCard)},
		{string(paysdk.ChannelDebitCard), string(core.ChannelDebitCard)},
		{string(paysdk.ChannelWeChatPay), string(core.ChannelWeChatPay)},
		{string(paysdk.ChannelAlipay), string(core.ChannelAlipay)},
		{string(paysdk.ChannelBankTransfer), string(core.ChannelBankTransfer)},
		{string(paysdk.CaptureAutomatic), string(core.CaptureAutomatic)},
		{string(paysdk.CaptureManual), string(core.CaptureManual)},
		{string(paysdk.StatusProcessing), string(core.StatusProcessing)},
		{string(paysdk.StatusRequiresAction), string(core.StatusRequiresAction)},
		{string(paysdk.StatusRequiresCapture), string(core.StatusRequiresCapture)},
		{string(paysdk.StatusSucceeded), string(core.StatusSucceeded)},
		{string(paysdk.StatusFailed), string(core.StatusFailed)},
		{string(paysdk.StatusCanceled), string(core.StatusCanceled)},
		{string(paysdk.StatusRequiresReview), string(core.StatusRequiresReview)},
		{paysdk.PayoutPending, core.PayoutPending},
		{paysdk.PayoutInTransit, core.PayoutInTransit},
		{paysdk.PayoutPaid, core.PayoutPaid},
		{paysdk.PayoutFailed, core.PayoutFailed},
		{paysdk.RefundPending, core.RefundPending},
		{paysdk.RefundSucceeded, core.RefundSucceeded},
		{paysdk.RefundFailed, core.RefundFailed},
		{paysdk.CodeParameterInvalid, core.CodeParameterInvalid},
		{paysdk.CodeParameterMissing, core.CodeParameterMissing},
		{paysdk.CodeParameterUnknown, core.CodeParameterUnknown},
		{paysdk.CodeInvalidJSON, core.CodeInvalidJSON},
		{paysdk.CodeBodyTooLarge, core.CodeBodyTooLarge},
		{paysdk.CodeUnauthenticated, core.CodeUnauthenticated},
		{paysdk.CodeForbidden, core.CodeForbidden},
		{paysdk.CodeNotFound, core.CodeNotFound},
		{paysdk.CodeMethodNotAllowed, core.CodeMethodNotAllowed},
		{paysdk.CodeIdempotencyKeyRequired, core.CodeIdempotencyKeyRequired},
		{paysdk.CodeIdempotencyKeyInvalid, core.CodeIdempotencyKeyInvalid},
		{paysdk.CodeIdempotencyKeyInUse, core.CodeIdempotencyKeyInUse},
		{paysdk.CodeIdempotencyKeyReused, core.CodeIdempotencyKeyReused},
		{paysdk.CodeDuplicateReference, core.CodeDuplicateReference},
		{paysdk.CodeInvalidState, core.CodeInvalidState},
		{paysdk.CodeOperationInProgress, core.CodeOperationInProgress},
		{paysdk.CodeAmountTooLarge, core.CodeAmountTooLarge},
		{paysdk.CodeIncorrectNumber, core.CodeIncorrectNumber},
		{paysdk.CodeCardDeclined, core.CodeCardDeclined},
		{paysdk.CodeInsufficientFunds, core.CodeInsufficientFunds},
		{paysdk.CodeExpiredCard, core.CodeExpiredCard},
		{paysdk.CodeIncorrectCVC, core.CodeIncorrectCVC},
		{paysdk.CodeProcessingError, core.CodeProcessingError},
		{paysdk.CodeBlockedByRisk, core.CodeBlockedByRisk},
		{paysdk.CodeChannelUnavailable, core.CodeChannelUnavailable},
		{paysdk.CodeChannelNotAuthorized, core.CodeChannelNotAuthorized},
		{paysdk.CodeRateLimited, core.CodeRateLimited},
		{paysdk.CodeUnavailable, core.CodeUnavailable},
		{paysdk.CodeInternal, core.CodeInternal},
	} {
		if tc.sdk != tc.core {
			t.Errorf("the SDK says %q where the domain says %q", tc.sdk, tc.core)
		}
	}
	if len(core.Channels) != 5 || len(core.Statuses) != 7 {
		t.Errorf("the domain has %d channels and %d statuses; the SDK knows 5 and 7: add the new ones to sdk/types.go and here",
			len(core.Channels), len(core.Statuses))
	}
	if len(core.RefundReasons) != 3 || core.RefundReasons[0] != paysdk.ReasonRequestedByCustomer ||
		core.RefundReasons[1] != paysdk.ReasonDuplicate || core.RefundReasons[2] != paysdk.ReasonFraudulent {
		t.Errorf("refund reasons: domain %q", core.RefundReasons)
	}
	if paysdk.MaxIdempotencyKey != core.MaxIdempotencyKey {
		t.Errorf("MaxIdempotencyKey: SDK %d, domain %d", paysdk.MaxIdempotencyKey, core.MaxIdempotencyKey)
	}
	for _, s := range core.Statuses {
		if paysdk.Status(s).Final() != s.Final() {
			t.Errorf("status %s: Final is %v in the SDK, %v in the domain", s, paysdk.Status(s).Final(), s.Final())
		}
	}
}
