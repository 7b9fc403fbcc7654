// Package sdkcontract holds the tests that keep the merchant SDK (github.com/paycenter/paycenter/sdk,
// its own Go module with its own copies of the API's types) and the platform in agreement:
// the SDK's clients against the real HTTP layer, over a fake service and over the real
// PostgreSQL service, and the SDK's types and constants against the domain's.
//
// They live in the platform's module because they need the server; the SDK's module
// keeps its own unit tests, which need nothing but net/http/httptest.
package sdkcontract
