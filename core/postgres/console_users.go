package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paycenter/paycenter/core"
)

// LockoutDuration is how long MaxFailedLogins wrong passwords lock a back-office account.
const LockoutDuration = 15 * time.Minute

// dummyHash is checked against when the e-mail is unknown, so a login takes as long
// whether or not the account exists.
var dummyHash, _ = core.HashPassword("not the password of anyone")

func sessionHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateConsoleUser creates a back-office user; actor is who did it (a user ID, "admin-token"
// or "merchant-key:<merchant>"), recorded in the audit log in the same transaction.
func (s *Service) CreateConsoleUser(ctx context.Context, actor string, p core.CreateUserParams) (*core.User, error) {
	p.Email = core.NormalizeEmail(p.Email)
	if err := p.Validate(); err != nil {
		return nil, err
	}
	hash, err := core.HashPassword(p.Password)
	if err != nil {
		return nil, core.Internal(err)
	}
	u := &core.User{Email: p.Email, Role: p.Role, MerchantID: p.Merchant, CreatedAt: s.now()}
	region := s.cfg.Region
	if p.Merchant != "" {
		if err := s.db.Pool.QueryRow(ctx, `SELECT region FROM merchants WHERE id = $1`, p.Merchant).Scan(&region); err != nil {
			if errNoRows(err) {
				return nil, core.ParamError(core.CodeNotFound, "merchant", "No such merchant: '%s'.", p.Merchant)
			}
			return nil, core.Internal(err)
		}
	}
	u.ID = core.NewID(core.PrefixUser, region)
	var merchant *string
	if p.Merchant != "" {
		merchant = &p.Merchant
	}
	err = s.db.WriteTx(ctx, "create_console_user", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO console_users (id, email, merchant_id, region, role, password_hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, u.ID, u.Email, merchant, region, u.Role, hash, u.CreatedAt); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, p.Merchant, "user.created", u.ID, u.Email+" as "+u.Role)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return nil, core.ParamError(core.CodeParameterInvalid, "email", "A user with this e-mail already exists.")
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	return u, nil
}

// audit appends one entry to the back-office audit log in tx.
func (s *Service) audit(ctx context.Context, tx pgx.Tx, actor, merchantID, action, objectID, detail string) error {
	var m *string
	if merchantID != "" {
		m = &merchantID
	}
	_, err := tx.Exec(ctx, `INSERT INTO console_audit (id, user_id, merchant_id, region, action, object_id, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, core.NewID(core.PrefixAudit, s.cfg.Region), actor, m, s.cfg.Region,
		action, objectID, detail, s.now())
	return err
}

// consoleAudit appends, in tx, the back-office audit entry of an action done for the
// back-office user ctx carries (core.WithActor), under merchantID (empty: an operator's
// action on no one merchant); for a caller without one (the API, a worker) it writes
// nothing. Written in the action's own transaction, the entry exists if and only if the
// change does.
func (s *Service) consoleAudit(ctx context.Context, tx pgx.Tx, merchantID, action, objectID, detail string) error {
	a, ok := core.ActorFrom(ctx)
	if !ok {
		return nil
	}
	if err := s.audit(ctx, tx, a.UserID, merchantID, action, objectID, detail); err != nil {
		return fmt.Errorf("console audit %s %s: %w", action, objectID, err)
	}
	return nil
}

// actorOr is how a service's own trail names the back-office user ctx carries
// (consoleActor), or def for a caller without one.
func actorOr(ctx context.Context, def string) string {
	if a, ok := core.ActorFrom(ctx); ok {
		return consoleActor(a.UserID)
	}
	return def
}

// RecordConsoleAudit appends one entry to the back-office audit log on its own: for an
// action of the back office that is no change in this database (a region's drain switch in
// Consul), recorded before it is attempted and again with its outcome. A change in the
// database is audited in its own transaction instead (consoleAudit).
func (s *Service) RecordConsoleAudit(ctx context.Context, userID, merchantID, action, objectID, detail string) error {
	err := s.db.WriteTx(ctx, "console_audit", func(tx pgx.Tx) error {
		return s.audit(ctx, tx, userID, merchantID, action, objectID, detail)
	})
	if err != nil {
		return core.Internal(err)
	}
	return nil
}

// ConsoleAudit lists the latest audit entries, a merchant's only when merchantID is set.
func (s *Service) ConsoleAudit(ctx context.Context, merchantID string, limit int) ([]core.AuditEntry, error) {
	sql := `SELECT id, user_id, COALESCE(merchant_id, ''), action, object_id, detail, created_at FROM console_audit`
	args := []any{limit}
	if merchantID != "" {
		sql += ` WHERE merchant_id = $2`
		args = append(args, merchantID)
	}
	rows, err := s.db.Pool.Query(ctx, sql+` ORDER BY created_at DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, core.Internal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.AuditEntry, error) {
		var e core.AuditEntry
		err := r.Scan(&e.ID, &e.UserID, &e.Merchant, &e.Action, &e.ObjectID, &e.Detail, &e.CreatedAt)
		return e, err
	})
	if err != nil {
		return nil, core.Internal(err)
	}
	return out, nil
}

// ConsoleLogin checks an e-mail and password, and the TOTP code of a user who enrolled a
// second factor, and opens a session with a new token (so a token planted before the login
// is never the signed-in one). MaxFailedLogins wrong passwords or codes in a row lock the
// account for LockoutDuration, the right ones included. A right password without the code
// a user needs is core.ErrTOTPRequired, and counts as no attempt.
func (s *Service) ConsoleLogin(ctx context.Context, email, password, code string) (*core.Session, error) {
	email = core.NormalizeEmail(email)
	var u core.User
	var hash string
	var merchant *string
	var lockedUntil *time.Time
	var totpSecret []byte
	var lastStep int64
	err := s.db.Pool.QueryRow(ctx, `SELECT id, email, merchant_id, role, password_hash, created_at, locked_until, totp_secret, totp_last_step
		FROM console_users WHERE email = $1`, email).Scan(&u.ID, &u.Email, &merchant, &u.Role, &hash, &u.CreatedAt, &lockedUntil, &totpSecret, &lastStep)
	if errNoRows(err) {
		core.CheckPassword(dummyHash, password)
		return nil, core.ErrLoginFailed
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	if merchant != nil {
		u.MerchantID = *merchant
	}
	u.TOTPEnabled = totpSecret != nil
	now := s.now()
	if lockedUntil != nil && lockedUntil.After(now) {
		e := core.Errorf(core.CodeRateLimited, "Too many wrong passwords: this account is locked until %s UTC.", lockedUntil.UTC().Format("15:04"))
		e.RetryAfter = int(lockedUntil.Sub(now).Seconds()) + 1
		return nil, e
	}
	if !core.CheckPassword(hash, password) {
		return nil, s.loginFailed(ctx, &u, now, "wrong passwords")
	}
	var step int64
	var recovery string // the hash of the recovery code signing in in place of a TOTP code
	if totpSecret != nil {
		if code == "" {
			return nil, core.ErrTOTPRequired
		}
		if core.NormalizeRecoveryCode(code) != "" {
			recovery = core.RecoveryCodeHash(u.ID, code)
		} else {
			secret, err := open(s.credentialsKey, totpSecret, []byte(u.ID+"/totp"))
			if err != nil {
				return nil, core.Internal(fmt.Errorf("open totp secret of %s: %w", u.ID, err))
			}
			var ok bool
			if step, ok = core.CheckTOTP(string(secret), code, now, lastStep); !ok {
				return nil, s.loginFailed(ctx, &u, now, "wrong passwords or codes")
			}
		}
	}
	sess := &core.Session{Token: randomToken(), User: &u, CSRF: randomToken(), CreatedAt: now, LastSeenAt: now}
	err = s.db.WriteTx(ctx, "console_login", func(tx pgx.Tx) error {
		if step > 0 {
			// The code's step is taken once: a concurrent login with the same code loses here.
			tag, err := tx.Exec(ctx, `UPDATE console_users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2`, u.ID, step)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return core.ErrLoginFailed
			}
		}
		if recovery != "" {
			// A recovery code is good once: used here, in the login's transaction (a
			// concurrent login with the same code finds it used).
			tag, err := tx.Exec(ctx, `UPDATE console_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
				u.ID, recovery, now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return errRecoveryCodeRefused
			}
			if err := s.audit(ctx, tx, u.ID, u.MerchantID, "user.recovery_code_used", u.ID, ""); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE console_users SET failed_logins = 0, locked_until = NULL WHERE id = $1`, u.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_sessions (token_hash, user_id, region, csrf_token, created_at, last_seen_at)
			VALUES ($1, $2, $3, $4, $5, $5)`, sessionHash(sess.Token), u.ID, s.cfg.Region, sess.CSRF, now)
		return err
	})
	if errors.Is(err, core.ErrLoginFailed) {
		return nil, core.ErrLoginFailed
	}
	if errors.Is(err, errRecoveryCodeRefused) {
		return nil, s.loginFailed(ctx, &u, now, "wrong passwords or codes")
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	return sess, nil
}

// errRecoveryCodeRefused is a recovery code unknown, or used already, in a login.
var errRecoveryCodeRefused = errors.New("recovery code refused")

// loginFailed counts a wrong password or code against u, locking the account at
// MaxFailedLogins (audited), and returns the one answer to a failed login.
func (s *Service) loginFailed(ctx context.Context, u *core.User, now time.Time, what string) error {
	err := s.db.WriteTx(ctx, "console_login_failed", func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `UPDATE console_users SET failed_logins = failed_logins + 1 WHERE id = $1
			RETURNING failed_logins`, u.ID).Scan(&n); err != nil {
			return err
		}
		if n < core.MaxFailedLogins {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE console_users SET failed_logins = 0, locked_until = $2 WHERE id = $1`,
			u.ID, now.Add(LockoutDuration)); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ID, u.MerchantID, "user.locked", u.ID, fmt.Sprintf("%d %s", n, what))
	})
	if err != nil {
		return core.Internal(err)
	}
	return core.ErrLoginFailed
}

// StartTOTPEnrolment makes a new TOTP secret for a user and keeps it, sealed, as the one
// being enrolled (replacing any earlier unconfirmed one). The secret and its otpauth:// URI
// are returned to be shown once; the factor is required only once ConfirmTOTP accepts a
// code of it.
func (s *Service) StartTOTPEnrolment(ctx context.Context, userID string) (secret, uri string, err error) {
	var email string
	var enabled *time.Time
	if err := s.db.Pool.QueryRow(ctx, `SELECT email, totp_enabled_at FROM console_users WHERE id = $1`, userID).Scan(&email, &enabled); err != nil {
		if errNoRows(err) {
			return "", "", core.Errorf(core.CodeNotFound, "No such user.")
		}
		return "", "", core.Internal(err)
	}
	if enabled != nil {
		return "", "", core.Errorf(core.CodeInvalidState, "A second factor is set up already.")
	}
	secret, uri, err = core.NewTOTPKey(email)
	if err != nil {
		return "", "", core.Internal(err)
	}
	sealed, err := seal(s.credentialsKey, []byte(secret), []byte(userID+"/totp"))
	if err != nil {
		return "", "", core.Internal(err)
	}
	err = s.db.WriteTx(ctx, "console_totp_start", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE console_users SET totp_pending = $2 WHERE id = $1 AND totp_enabled_at IS NULL`, userID, sealed)
		return err
	})
	if err != nil {
		return "", "", core.Internal(err)
	}
	return secret, uri, nil
}

// ConfirmTOTP completes a user's TOTP enrolment with a code of the secret being enrolled:
// from then on the code is required at login. It answers the user's core.RecoveryCodeCount
// recovery codes, in this answer only (only their hashes are stored). Audited.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) ([]string, error) {
	var codes []string
	err := s.db.WriteTx(ctx, "console_totp_confirm", func(tx pgx.Tx) error {
		var pending []byte
		var merchant *string
		var region string
		if err := tx.QueryRow(ctx, `SELECT totp_pending, merchant_id, region FROM console_users WHERE id = $1 FOR UPDATE`, userID).
			Scan(&pending, &merchant, &region); err != nil {
			return err
		}
		if pending == nil {
			return core.ParamError(core.CodeInvalidState, "code", "Start the set-up first.")
		}
		secret, err := open(s.credentialsKey, pending, []byte(userID+"/totp"))
		if err != nil {
			return err
		}
		step, ok := core.CheckTOTP(string(secret), code, s.now(), 0)
		if !ok {
			return core.ParamError(core.CodeParameterInvalid, "code", "That code is not the current one; check the app's clock and try the next code.")
		}
		if _, err := tx.Exec(ctx, `UPDATE console_users SET totp_secret = totp_pending, totp_pending = NULL, totp_enabled_at = $2,
				totp_last_step = $3 WHERE id = $1`, userID, s.now(), step); err != nil {
			return err
		}
		if codes, err = s.newRecoveryCodes(ctx, tx, userID, region); err != nil {
			return err
		}
		m := ""
		if merchant != nil {
			m = *merchant
		}
		return s.audit(ctx, tx, userID, m, "user.totp_enabled", userID, "")
	})
	if err != nil {
		if errNoRows(err) {
			return nil, core.Errorf(core.CodeNotFound, "No such user.")
		}
		return nil, core.AsError(err)
	}
	return codes, nil
}

// newRecoveryCodes replaces a user's recovery codes, in tx, with new ones, and answers them.
func (s *Service) newRecoveryCodes(ctx context.Context, tx pgx.Tx, userID, region string) ([]string, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM console_recovery_codes WHERE user_id = $1`, userID); err != nil {
		return nil, err
	}
	codes := core.NewRecoveryCodes()
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = core.RecoveryCodeHash(userID, c)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO console_recovery_codes (user_id, code_hash, region, created_at)
		SELECT $1, h, $2, $3 FROM unnest($4::TEXT[]) AS h`, userID, region, s.now(), hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// RegenerateRecoveryCodes gives a user with a TOTP second factor new recovery codes, in this
// answer only; the old ones, used or not, are good no more. Audited.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	var codes []string
	err := s.db.WriteTx(ctx, "console_recovery_codes", func(tx pgx.Tx) error {
		var enabled *time.Time
		var merchant *string
		var region string
		if err := tx.QueryRow(ctx, `SELECT totp_enabled_at, merchant_id, region FROM console_users WHERE id = $1 FOR UPDATE`, userID).
			Scan(&enabled, &merchant, &region); err != nil {
			return err
		}
		if enabled == nil {
			return core.Errorf(core.CodeInvalidState, "Recovery codes stand in for a second factor: set one up first.")
		}
		var err error
		if codes, err = s.newRecoveryCodes(ctx, tx, userID, region); err != nil {
			return err
		}
		m := ""
		if merchant != nil {
			m = *merchant
		}
		return s.audit(ctx, tx, userID, m, "user.recovery_codes_regenerated", userID, "")
	})
	if err != nil {
		if errNoRows(err) {
			return nil, core.Errorf(core.CodeNotFound, "No such user.")
		}
		return nil, core.AsError(err)
	}
	return codes, nil
}

// RecoveryCodesLeft counts a user's recovery codes not used yet.
func (s *Service) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM console_recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, core.Internal(err)
	}
	return n, nil
}

// ConsoleSession finds the live session of a token: seen within idle and created within
// absolute. Its last-seen time is moved on at most once a minute. A dead or unknown token
// is a core.CodeUnauthenticated error.
func (s *Service) ConsoleSession(ctx context.Context, token string, idle, absolute time.Duration) (*core.Session, error) {
	now := s.now()
	sess := &core.Session{User: &core.User{}}
	var merchant *string
	h := sessionHash(token)
	err := s.db.Pool.QueryRow(ctx, `SELECT s.csrf_token, s.created_at, s.last_seen_at, u.id, u.email, u.merchant_id, u.role, u.created_at,
			u.totp_enabled_at IS NOT NULL
		FROM console_sessions s JOIN console_users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.last_seen_at > $2 AND s.created_at > $3`, h, now.Add(-idle), now.Add(-absolute)).
		Scan(&sess.CSRF, &sess.CreatedAt, &sess.LastSeenAt, &sess.User.ID, &sess.User.Email, &merchant, &sess.User.Role, &sess.User.CreatedAt,
			&sess.User.TOTPEnabled)
	if errNoRows(err) {
		return nil, core.Errorf(core.CodeUnauthenticated, "Your session has ended; sign in again.")
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	if merchant != nil {
		sess.User.MerchantID = *merchant
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		if _, err := s.db.Pool.Exec(ctx, `UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1`, h, now); err != nil {
			return nil, core.Internal(err)
		}
		sess.LastSeenAt = now
	}
	return sess, nil
}

// ConsoleLogout ends a session.
func (s *Service) ConsoleLogout(ctx context.Context, token string) error {
	if _, err := s.db.Pool.Exec(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, sessionHash(token)); err != nil {
		return core.Internal(err)
	}
	return nil
}

// ConsoleUsers lists a merchant's users, or the operators when merchantID is empty.
func (s *Service) ConsoleUsers(ctx context.Context, merchantID string) ([]core.User, error) {
	sql := `SELECT id, email, COALESCE(merchant_id, ''), role, created_at, totp_enabled_at IS NOT NULL FROM console_users WHERE merchant_id IS NULL ORDER BY email`
	var args []any
	if merchantID != "" {
		sql = `SELECT id, email, COALESCE(merchant_id, ''), role, created_at, totp_enabled_at IS NOT NULL FROM console_users WHERE merchant_id = $1 ORDER BY email`
		args = append(args, merchantID)
	}
	rows, err := s.db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, core.Internal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.User, error) {
		var u core.User
		err := r.Scan(&u.ID, &u.Email, &u.MerchantID, &u.Role, &u.CreatedAt, &u.TOTPEnabled)
		return u, err
	})
	if err != nil {
		return nil, core.Internal(err)
	}
	return out, nil
}

// ConsoleMerchants lists merchants, newest first, for operators.
func (s *Service) ConsoleMerchants(ctx context.Context, limit int) ([]core.MerchantSummary, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, name, region, status, created_at FROM merchants ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, core.Internal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.MerchantSummary, error) {
		var m core.MerchantSummary
		err := r.Scan(&m.ID, &m.Name, &m.Region, &m.Status, &m.CreatedAt)
		return m, err
	})
	if err != nil {
		return nil, core.Internal(err)
	}
	return out, nil
}
