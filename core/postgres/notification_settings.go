package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/notify"
)

// A merchant's notification settings and its own templates. The settings row holds the
// whole core.NotificationSettings as JSONB so that the SQL making notices (fan-out,
// low-balance reminder, periodic reminder) reads it where it decides; no row means the
// defaults. Changes are audited in merchant_ops_events, as the merchant's other settings are.

// Audit actions of the notification settings.
const (
	opsNotificationSettingsSet = "notification_settings.set"
	opsNotificationTemplateSet = "notification_template.set"
	opsNotificationTemplateDel = "notification_template.deleted"
)

// NotificationSettings reads a merchant's settings (the defaults if it set none).
func (s *Service) NotificationSettings(ctx context.Context, merchantID string) (*core.NotificationSettings, error) {
	return s.notificationSettings(ctx, s.db.Pool, merchantID, false)
}

func (s *Service) notificationSettings(ctx context.Context, q querier, merchantID string, forUpdate bool) (*core.NotificationSettings, error) {
	sql := `SELECT settings, updated_at FROM notification_settings WHERE merchant_id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	var raw []byte
	out := core.DefaultNotificationSettings()
	err := q.QueryRow(ctx, sql, merchantID).Scan(&raw, &out.UpdatedAt)
	if errNoRows(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read notification settings: %w", err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("decode notification settings: %w", err)
	}
	return out, nil
}

// SetNotificationSettings changes the settings p names (validated), audited.
func (s *Service) SetNotificationSettings(ctx context.Context, merchantID string, p core.NotificationSettingsParams) (*core.NotificationSettings, error) {
	var out *core.NotificationSettings
	err := s.db.WriteTx(ctx, "notification_settings.set", func(tx pgx.Tx) error {
		region, err := merchantRegion(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		cur, err := s.notificationSettings(ctx, tx, merchantID, true)
		if err != nil {
			return err
		}
		p.Apply(cur)
		now := s.now()
		cur.UpdatedAt = &now
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notification_settings (merchant_id, region, settings, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (merchant_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
			merchantID, region, b, now); err != nil {
			return err
		}
		out = cur
		return auditOps(ctx, tx, merchantID, region, opsNotificationSettingsSet, actorMerchant, p, now)
	})
	if err != nil {
		return nil, s.dbError(ctx, err)
	}
	return out, nil
}

func templateNotFound(name string) error {
	return core.ParamError(core.CodeNotFound, "name", "No such template %q: templates are %v.", name, notify.Templates)
}

// templateFor is the template a merchant's notice of name in lang is rendered with (its own
// if it has one, else the shipped one), and the same as the API shows it.
func (s *Service) templateFor(ctx context.Context, merchantID, name, lang string) (notify.Template, *core.NotificationTemplate, error) {
	t := notify.Template{Name: name, Language: lang}
	shown := &core.NotificationTemplate{Object: "notification_template", Name: name, Language: lang}
	err := s.db.Pool.QueryRow(ctx, `SELECT subject, text_body, html_body, updated_at FROM notification_templates
		WHERE merchant_id = $1 AND name = $2 AND language = $3`, merchantID, name, lang).Scan(&t.Subject, &t.Text, &t.HTML, &shown.UpdatedAt)
	switch {
	case err == nil:
		shown.Subject, shown.Text, shown.HTML = t.Subject, t.Text, t.HTML
		return t, shown, nil
	case !errNoRows(err):
		return t, nil, fmt.Errorf("read notification template: %w", err)
	}
	shipped, err := notify.Shipped(name, lang)
	if err != nil {
		return t, nil, err
	}
	shown.Subject, shown.Text, shown.Shipped = shipped.Subject, shipped.Text, true
	return shipped, shown, nil
}

// SetNotificationTemplate keeps the merchant's version of template name in p.Language, once
// it parses and executes with the template's sample data (else a 400 naming the part).
func (s *Service) SetNotificationTemplate(ctx context.Context, merchantID, name string, p core.NotificationTemplateParams) (*core.NotificationTemplate, error) {
	if !slices.Contains(notify.Templates, name) {
		return nil, templateNotFound(name)
	}
	t := notify.Template{Name: name, Language: p.Language, Subject: p.Subject, Text: p.Text, HTML: p.HTML}
	if err := notify.Check(t); err != nil {
		var te *notify.TemplateError
		if errors.As(err, &te) {
			return nil, core.ParamError(core.CodeParameterInvalid, te.Part, "The %s template does not work: %v", te.Part, te.Err)
		}
		return nil, err
	}
	now := s.now()
	out := &core.NotificationTemplate{Object: "notification_template", Name: name, Language: p.Language, Subject: p.Subject,
		Text: p.Text, HTML: p.HTML, UpdatedAt: &now}
	err := s.db.WriteTx(ctx, "notification_template.set", func(tx pgx.Tx) error {
		region, err := merchantRegion(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notification_templates (merchant_id, region, name, language, subject, text_body, html_body, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (merchant_id, name, language) DO UPDATE
			SET subject = excluded.subject, text_body = excluded.text_body, html_body = excluded.html_body, updated_at = excluded.updated_at`,
			merchantID, region, name, p.Language, p.Subject, p.Text, p.HTML, now); err != nil {
			return err
		}
		return auditOps(ctx, tx, merchantID, region, opsNotificationTemplateSet, actorMerchant, map[string]string{"name": name, "language": p.Language}, now)
	})
	if err != nil {
		return nil, s.dbError(ctx, err)
	}
	return out, nil
}

// DeleteNotificationTemplate drops the merchant's version of template name in lang: the
// shipped one applies again, and is returned.
func (s *Service) DeleteNotificationTemplate(ctx context.Context, merchantID, name, lang string) (*core.NotificationTemplate, error) {
	if !slices.Contains(notify.Templates, name) {
		return nil, templateNotFound(name)
	}
	if !slices.Contains(core.Languages, lang) {
		return nil, core.ParamError(core.CodeParameterInvalid, "language", "language must be \"en\" or \"zh\".")
	}
	err := s.db.WriteTx(ctx, "notification_template.delete", func(tx pgx.Tx) error {
		region, err := merchantRegion(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM notification_templates WHERE merchant_id = $1 AND name = $2 AND language = $3`, merchantID, name, lang)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return auditOps(ctx, tx, merchantID, region, opsNotificationTemplateDel, actorMerchant, map[string]string{"name": name, "language": lang}, s.now())
	})
	if err != nil {
		return nil, s.dbError(ctx, err)
	}
	_, out, err := s.templateFor(ctx, merchantID, name, lang)
	return out, err
}

// NotificationTemplate reads the template of name in lang a merchant's notices use.
func (s *Service) NotificationTemplate(ctx context.Context, merchantID, name, lang string) (*core.NotificationTemplate, error) {
	if !slices.Contains(notify.Templates, name) {
		return nil, templateNotFound(name)
	}
	if !slices.Contains(core.Languages, lang) {
		return nil, core.ParamError(core.CodeParameterInvalid, "language", "language must be \"en\" or \"zh\".")
	}
	_, out, err := s.templateFor(ctx, merchantID, name, lang)
	return out, err
}
