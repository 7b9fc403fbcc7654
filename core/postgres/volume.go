package postgres

import (
	"hash/fnv"

	"github.com/paycenter/paycenter/core"
)

// volumeSlots is the number of rows a merchant's volume in a currency is spread over.
const volumeSlots = 8

// countsInVolume reports whether a payment in status st counts in its merchant's volume
// (the KYC volume check's): every payment that has not failed or been canceled.
func countsInVolume(st core.Status) bool {
	return st != core.StatusFailed && st != core.StatusCanceled
}

// queueVolume queues the change of pay's merchant's volume by delta, in pay's slot.
func queueVolume(w *writeBatch, pay *core.Payment, delta int64) {
	h := fnv.New32a()
	h.Write([]byte(pay.ID))
	w.queue(`INSERT INTO merchant_volume (merchant_id, currency, slot, region, amount) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (merchant_id, currency, slot) DO UPDATE SET amount = merchant_volume.amount + EXCLUDED.amount`,
		pay.MerchantID, pay.Currency, int16(h.Sum32()%volumeSlots), pay.Region, delta)
}
