//go:build !linux

package postgres

import "time"

func setUserTimeout(uintptr, time.Duration) error { return nil }
