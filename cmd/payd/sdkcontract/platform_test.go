package sdkcontract

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
	paysdk "github.com/paycenter/paycenter/sdk"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestAgainstTheRealPlatform runs both of the SDK's clients against a real node (the
// PostgreSQL service and the HTTP API): an operator onboards a merchant and manages its
// channels, the merchant pays, captures and refunds, and the ledger and the card
// channel's statement agree with what happened.
func TestAgainstTheRealPlatform(t *testing.T) {
	node := paydtest.Start(t)
	ctx := context.Background()
	admin, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: []string{closedURL(t), node.URL}, Token: paydtest.AdminToken, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	m, err := admin.CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: "Acme", HomeRegion: paydtest.Region})
	if err != nil {
		t.Fatal(err)
	}
	if m.HomeRegion != paydtest.Region || m.Name != "Acme" || m.SecretKey == "" || m.Status != "active" {
		t.Fatalf("merchant %+v", m)
	}
	c, err := paysdk.New(paysdk.Config{Endpoints: []string{node.URL}, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("merchant flow", func(t *testing.T) {
		p := cardParams()
		p.CaptureMethod, p.MerchantReference = paysdk.CaptureManual, "real-1"
		pay, err := c.CreatePayment(ctx, p)
		if err != nil || pay.Status != paysdk.StatusRequiresCapture || pay.AmountCapturable != 1000 || pay.PaymentMethod.Last4 != "4242" {
			t.Fatalf("create: %+v, %v", pay, err)
		}
		amount := int64(600)
		if pay, err = c.CapturePayment(ctx, pay.ID, paysdk.CaptureParams{Amount: &amount}); err != nil || pay.Status != paysdk.StatusSucceeded || pay.AmountCaptured != 600 {
			t.Fatalf("capture: %+v, %v", pay, err)
		}
		refund := int64(100)
		r, err := c.CreateRefund(ctx, paysdk.CreateRefundParams{Payment: pay.ID, Amount: &refund, Reason: paysdk.ReasonDuplicate})
		if err != nil || r.Status != paysdk.RefundSucceeded || r.Currency != "USD" {
			t.Fatalf("refund: %+v, %v", r, err)
		}
		if got, err := c.GetRefund(ctx, r.ID); err != nil || got.Amount != 100 {
			t.Errorf("get refund: %+v, %v", got, err)
		}
		l, err := c.ListPayments(ctx, paysdk.PaymentFilter{MerchantReference: "real-1"})
		if err != nil || len(l.Data) != 1 || l.Data[0].AmountRefunded != 100 {
			t.Errorf("list: %+v, %v", l, err)
		}
		b, err := c.Balance(ctx)
		if err != nil || len(b.Data) != 1 || b.Data[0].Available+b.Data[0].Pending != 500 || b.Data[0].OnHold != 0 {
			t.Errorf("balance: %+v, %v", b, err)
		}
		if me, err := c.Merchant(ctx); err != nil || me.ID != m.ID || me.SecretKey != "" {
			t.Errorf("merchant: %+v, %v", me, err)
		}

		declined := cardParams()
		declined.MerchantReference, declined.PaymentMethod.Card.Number = "real-declined", "4000000000000002"
		_, err = c.CreatePayment(ctx, declined)
		var e *paysdk.Error
		if !errors.As(err, &e) || e.Status != 402 || e.Code != paysdk.CodeCardDeclined || e.Type != paysdk.TypeCard || e.PaymentID == "" {
			t.Fatalf("declined: %#v", err)
		}
		if failed, err := c.GetPayment(ctx, e.PaymentID); err != nil || failed.Status != paysdk.StatusFailed || *failed.FailureCode != paysdk.CodeCardDeclined {
			t.Errorf("declined payment: %+v, %v", failed, err)
		}

		wx, err := c.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 8800, Currency: "cny", Channel: paysdk.ChannelWeChatPay, MerchantReference: "real-wx"})
		if err != nil || wx.Status != paysdk.StatusRequiresAction || wx.NextAction == nil ||
			wx.NextAction.Type != paysdk.NextActionWeChatPayQRCode || wx.NextAction.QRCode == "" {
			t.Fatalf("wechat: %+v, %v", wx, err)
		}
		if wx, err = c.CancelPayment(ctx, wx.ID, paysdk.CancelParams{CancellationReason: "abandoned"}); err != nil || wx.Status != paysdk.StatusCanceled ||
			wx.CancellationReason == nil || *wx.CancellationReason != "abandoned" {
			t.Errorf("cancel: %+v, %v", wx, err)
		}
	})

	t.Run("refunds list and API keys", func(t *testing.T) {
		p := cardParams()
		p.MerchantReference = "real-keys"
		pay, err := c.CreatePayment(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, amount := range []int64{100, 200} {
			r, err := c.CreateRefund(ctx, paysdk.CreateRefundParams{Payment: pay.ID, Amount: &amount})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		page, err := c.ListRefunds(ctx, paysdk.RefundFilter{Payment: pay.ID, Limit: 1})
		if err != nil || len(page.Data) != 1 || !page.HasMore || page.Data[0].ID != ids[1] {
			t.Fatalf("first page: %+v, %v", page, err)
		}
		page, err = c.ListRefunds(ctx, paysdk.RefundFilter{Payment: pay.ID, StartingAfter: page.Data[0].ID})
		if err != nil || len(page.Data) != 1 || page.HasMore || page.Data[0].ID != ids[0] {
			t.Fatalf("second page: %+v, %v", page, err)
		}

		keys, err := c.APIKeys(ctx)
		if err != nil || len(keys.Data) != 1 || !keys.Data[0].Current || keys.Data[0].Last4 != m.SecretKey[len(m.SecretKey)-4:] {
			t.Fatalf("keys: %+v, %v", keys, err)
		}
		rolled, err := c.RollKey(ctx, paysdk.RollKeyParams{ExpireCurrentIn: 3600})
		if err != nil || rolled.SecretKey == "" || rolled.SecretKey == m.SecretKey {
			t.Fatalf("roll: %+v, %v", rolled, err)
		}
		nc, err := paysdk.New(paysdk.Config{Endpoints: []string{node.URL}, SecretKey: rolled.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		keys, err = nc.APIKeys(ctx)
		if err != nil || len(keys.Data) != 2 {
			t.Fatalf("keys after the roll: %+v, %v", keys, err)
		}
		var old string
		for _, k := range keys.Data {
			if !k.Current {
				old = k.ID
				if k.ExpiresAt == nil {
					t.Errorf("the rolled key has no expiry: %+v", k)
				}
			}
		}
		if k, err := nc.RevokeKey(ctx, old); err != nil || k.ID != old {
			t.Fatalf("revoke: %+v, %v", k, err)
		}
		var e *paysdk.Error
		if _, err := c.Merchant(ctx); !errors.As(err, &e) || e.Status != 401 || e.Type != paysdk.TypeAuthentication {
			t.Errorf("the revoked key: %#v", err)
		}
		fresh, err := admin.RevokeAllKeys(ctx, m.ID)
		if err != nil || fresh.SecretKey == "" || fresh.ID != m.ID {
			t.Fatalf("revoke all: %+v, %v", fresh, err)
		}
		c, err = paysdk.New(paysdk.Config{Endpoints: []string{node.URL}, SecretKey: fresh.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		if me, err := c.Merchant(ctx); err != nil || me.ID != m.ID {
			t.Fatalf("the operator's new key: %+v, %v", me, err)
		}
	})

	t.Run("channel authorisations", func(t *testing.T) {
		a, err := admin.SetChannel(ctx, m.ID, paysdk.ChannelAlipay, paysdk.SetChannelParams{Enabled: false})
		if err != nil || a.Enabled || a.Channel != paysdk.ChannelAlipay || a.Merchant != m.ID {
			t.Fatalf("set: %+v, %v", a, err)
		}
		list, err := admin.ChannelAuthorizations(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, a := range list.Data {
			found = found || (a.Channel == paysdk.ChannelAlipay && !a.Enabled)
		}
		if !found {
			t.Errorf("alipay is not listed as forbidden: %+v", list.Data)
		}
		_, err = c.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 100, Currency: "cny", Channel: paysdk.ChannelAlipay, MerchantReference: "real-ali"})
		if !paysdk.IsCode(err, paysdk.CodeChannelNotAuthorized) {
			t.Errorf("payment on a forbidden channel: %v", err)
		}
		a, err = admin.SetChannel(ctx, m.ID, paysdk.ChannelAlipay, paysdk.SetChannelParams{Enabled: true, Credentials: map[string]string{"app_id": "own"}})
		if err != nil || !a.Enabled || !a.HasCredentials {
			t.Errorf("set with credentials: %+v, %v", a, err)
		}
		if _, err := admin.ChannelAuthorizations(ctx, "mer_us-east_nobody"); !paysdk.IsCode(err, paysdk.CodeNotFound) {
			t.Errorf("unknown merchant: %v", err)
		}
		if _, err := admin.SetChannel(ctx, m.ID, "carrier_pigeon", paysdk.SetChannelParams{Enabled: true}); !paysdk.IsCode(err, paysdk.CodeParameterInvalid) {
			t.Errorf("unknown channel: %v", err)
		}
	})

	t.Run("ledger and reconciliation", func(t *testing.T) {
		rep, err := admin.CheckLedger(ctx)
		if err != nil || !rep.Balanced || rep.Journals == 0 || rep.Entries == 0 {
			t.Fatalf("ledger: %+v, %v", rep, err)
		}
		day := time.Now().UTC().Format(time.DateOnly)
		rec, err := admin.Reconcile(ctx, paysdk.ReconcileParams{Channel: paysdk.ChannelCard, Date: day})
		if err != nil || !rec.Balanced || rec.Date != day || rec.Channel != paysdk.ChannelCard || rec.Matched == 0 || rec.Disagreements() != 0 {
			t.Fatalf("reconcile: %+v, %v", rec, err)
		}
	})

	t.Run("wrong admin token", func(t *testing.T) {
		bad, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: []string{node.URL}, Token: "adm_wrong"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.CheckLedger(ctx)
		var e *paysdk.Error
		if !errors.As(err, &e) || e.Status != 401 || e.Type != paysdk.TypeAuthentication {
			t.Errorf("err = %#v", err)
		}
	})
}
