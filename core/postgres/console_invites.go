package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paycenter/paycenter/core"
)

// CreateConsoleInvitation records a merchant user's invitation of a person by e-mail with a
// role, audited with actor; it returns the invitation and its token (for the e-mailed
// link; only the token's hash is stored). An e-mail that already has a user is refused.
func (s *Service) CreateConsoleInvitation(ctx context.Context, actor string, p core.InviteParams) (*core.Invitation, string, error) {
	p.Email = core.NormalizeEmail(p.Email)
	if err := p.Validate(); err != nil {
		return nil, "", err
	}
	now := s.now()
	inv := &core.Invitation{MerchantID: p.Merchant, Email: p.Email, Role: p.Role, InvitedBy: actor, CreatedAt: now, ExpiresAt: now.Add(core.InvitationTTL)}
	token := randomToken()
	err := s.db.WriteTx(ctx, "console_invite", func(tx pgx.Tx) error {
		region, err := merchantRegion(ctx, tx, p.Merchant)
		if err != nil {
			return err
		}
		inv.ID = core.NewID(core.PrefixInvitation, region)
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM console_users WHERE email = $1)`, p.Email).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return core.ParamError(core.CodeParameterInvalid, "email", "A user with this e-mail already exists.")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO console_invitations (token_hash, id, merchant_id, region, email, role, invited_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, sessionHash(token), inv.ID, p.Merchant, region, p.Email, p.Role, actor, now, inv.ExpiresAt); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, p.Merchant, "invitation.created", inv.ID, p.Email+" as "+p.Role)
	})
	if err != nil {
		return nil, "", core.AsError(err)
	}
	return inv, token, nil
}

const invitationColumns = `id, merchant_id, email, role, invited_by, created_at, expires_at, used_at`

func scanInvitation(row pgx.Row) (*core.Invitation, error) {
	inv := &core.Invitation{}
	err := row.Scan(&inv.ID, &inv.MerchantID, &inv.Email, &inv.Role, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt, &inv.UsedAt)
	return inv, err
}

// errInvitationGone is the one answer to an unknown, used or expired invitation token.
var errInvitationGone = core.Errorf(core.CodeNotFound, "This invitation link is not valid: it was used already, it expired, or it never existed. Ask for a new one.")

// ConsoleInvitation finds the live invitation of a token: not used, not expired.
func (s *Service) ConsoleInvitation(ctx context.Context, token string) (*core.Invitation, error) {
	inv, err := scanInvitation(s.db.Pool.QueryRow(ctx, `SELECT `+invitationColumns+` FROM console_invitations
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`, sessionHash(token), s.now()))
	if errNoRows(err) {
		return nil, errInvitationGone
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	return inv, nil
}

// ConsoleInvitations lists a merchant's latest invitations, newest first.
func (s *Service) ConsoleInvitations(ctx context.Context, merchantID string, limit int) ([]*core.Invitation, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+invitationColumns+` FROM console_invitations WHERE merchant_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2`, merchantID, limit)
	if err != nil {
		return nil, core.Internal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*core.Invitation, error) { return scanInvitation(r) })
	if err != nil {
		return nil, core.Internal(err)
	}
	return out, nil
}

// AcceptConsoleInvitation uses an invitation's token once: it creates the invited user with
// password and marks the invitation used, in one transaction (a second use, even at the same
// moment, finds it used). Audited.
func (s *Service) AcceptConsoleInvitation(ctx context.Context, token, password string) (*core.User, error) {
	if n := len([]rune(password)); n < core.MinPasswordLength || n > 256 {
		return nil, core.ParamError(core.CodeParameterInvalid, "password", "password must have %d to 256 characters.", core.MinPasswordLength)
	}
	hash, err := core.HashPassword(password)
	if err != nil {
		return nil, core.Internal(err)
	}
	var u *core.User
	err = s.db.WriteTx(ctx, "console_accept_invitation", func(tx pgx.Tx) error {
		now := s.now()
		inv, err := scanInvitation(tx.QueryRow(ctx, `SELECT `+invitationColumns+` FROM console_invitations
			WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE`, sessionHash(token), now))
		if errNoRows(err) {
			return errInvitationGone
		}
		if err != nil {
			return err
		}
		region, err := merchantRegion(ctx, tx, inv.MerchantID)
		if err != nil {
			return err
		}
		u = &core.User{ID: core.NewID(core.PrefixUser, region), Email: inv.Email, Role: inv.Role, MerchantID: inv.MerchantID, CreatedAt: now}
		if _, err := tx.Exec(ctx, `UPDATE console_invitations SET used_at = $2 WHERE id = $1`, inv.ID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO console_users (id, email, merchant_id, region, role, password_hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, u.ID, u.Email, u.MerchantID, region, u.Role, hash, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, u.ID, inv.MerchantID, "invitation.accepted", inv.ID, fmt.Sprintf("%s as %s, invited by %s", u.Email, u.Role, inv.InvitedBy))
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return nil, core.ParamError(core.CodeParameterInvalid, "email", "A user with this e-mail already exists.")
	}
	if err != nil {
		return nil, core.AsError(err)
	}
	return u, nil
}
