#!/usr/bin/env bash
# Time to detect, on the running local platform (make up): card testing (a burst of
# incorrect_cvc declines from one merchant) and a merchant's success-rate drop (approved
# payments, then, once they are more than 5 minutes old and so the merchant's baseline,
# declines). For each: the time from the first abnormal payment to the detector's alert
# record, and to Alertmanager's notification reaching payd (PaycenterAbnormalTransactionsCritical).
#   deploy/localprom/ttd.sh [.local/cluster.json]      (about 6 minutes: the baseline must age)
set -euo pipefail
C=${1:-.local/cluster.json}
T=$(jq -r .admin_token "$C"); E=$(jq -r '.regions[0].endpoint' "$C")
now_ms() { date +%s%3N; }
merchant() { curl -sf -H "Authorization: Bearer $T" -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"home_region\":\"us-east\"}" "$E/v1/admin/merchants"; }
pay() { # secret card reference
	curl -s -o /dev/null -H "Authorization: Bearer $1" -H "Idempotency-Key: $3" -H 'Content-Type: application/json' \
		-d "{\"amount\":500,\"currency\":\"usd\",\"channel\":\"card\",\"merchant_reference\":\"$3\",\"payment_method\":{\"card\":{\"number\":\"$2\",\"exp_month\":12,\"exp_year\":2034,\"cvc\":\"123\"}}}" "$E/v1/payments"
}
# wait_for START JQ-FILTER: milliseconds from START until a firing alert matches the filter.
wait_for() {
	while ! curl -s -H "Authorization: Bearer $T" "$E/v1/admin/alerts?status=firing" | jq -e ".data[] | select($2)" >/dev/null; do
		sleep 0.2
	done
	echo $(($(now_ms) - $1))
}
run=$(date +%s)
mb=$(merchant "ttd baseline $run"); mb_id=$(jq -r .id <<<"$mb"); mb_key=$(jq -r .secret_key <<<"$mb")
for i in $(seq 1 30); do pay "$mb_key" 4242424242424242 "ok-$run-$i"; done
mc=$(merchant "ttd card testing $run"); mc_id=$(jq -r .id <<<"$mc"); mc_key=$(jq -r .secret_key <<<"$mc")
start=$(now_ms)
for i in $(seq 1 20); do pay "$mc_key" 4000000000000127 "cvc-$run-$i"; done
sent=$(($(now_ms) - start))
d=$(wait_for "$start" ".source==\"detector\" and .detector==\"decline_burst\" and .labels.merchant==\"$mc_id\"")
a=$(wait_for "$start" ".source==\"alertmanager\" and .detector==\"PaycenterAbnormalTransactionsCritical\" and .labels.detector==\"decline_burst\"")
echo "card testing (20 incorrect_cvc declines, sent in ${sent} ms): detector ${d} ms, Alertmanager notification ${a} ms"
echo "waiting for the baseline payments to age past the 5-minute window ..."
sleep 305
start=$(now_ms)
for i in $(seq 1 30); do pay "$mb_key" 4000000000000002 "ko-$run-$i"; done
sent=$(($(now_ms) - start))
d=$(wait_for "$start" ".source==\"detector\" and .detector==\"success_rate_drop\" and .labels.merchant==\"$mb_id\"")
a=$(wait_for "$start" ".source==\"alertmanager\" and .detector==\"PaycenterAbnormalTransactionsCritical\" and .labels.detector==\"success_rate_drop\"")
echo "success-rate drop (merchant 100 % -> 0 %, 30 declines sent in ${sent} ms): detector ${d} ms, Alertmanager notification ${a} ms"
