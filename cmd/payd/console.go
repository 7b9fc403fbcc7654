package main

import (
	"net/http"

	"github.com/paycenter/paycenter/core/console"
	"github.com/paycenter/paycenter/core/postgres"
)

// withConsole serves the back office under /dashboard/ beside the API.
func withConsole(api http.Handler, svc *postgres.Service, cfg console.Config) (http.Handler, error) {
	c, err := console.New(svc, cfg)
	if err != nil {
		return nil, err
	}
	return console.Mount(api, c), nil
}
