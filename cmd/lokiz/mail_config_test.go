package main

import (
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/mail"
)

func TestLoadConfigEmail(t *testing.T) {
	t.Parallel()
	prod := map[string]string{
		"LOKIZ_ENV": "production", "DATABASE_URL": "postgres://u:p@db:5432/lokiz", "REDIS_URL": "redis://cache:6379/0",
		"SECRET_KEY": strings.Repeat("k", 40), "CORS_ALLOWED_ORIGINS": "https://lokiz.app",
	}
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(prod)
		maps.Copy(m, extra)
		return m
	}

	c, err := LoadConfig(envMap(prod))
	require.NoError(t, err)
	require.False(t, c.Email.Enabled(), "no SMTP_HOST: mail is off")
	require.False(t, c.Email.WelcomeAfterVerification, "off by default")
	require.Equal(t, time.Hour, c.Email.DigestPeriod)

	c, err = LoadConfig(envMap(with(map[string]string{
		"SMTP_HOST": "smtp.example.com", "SMTP_PORT": "2525", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "p",
		"SMTP_FROM": "LOKIZ <hi@lokiz.app>", "EMAIL_DIGEST_PERIOD": "6h", "WELCOME_CREDITS_AFTER_VERIFICATION": "true",
	})))
	require.NoError(t, err)
	require.Equal(t, mail.Config{Host: "smtp.example.com", Port: 2525, Username: "u", Password: "p",
		From: "LOKIZ <hi@lokiz.app>", TLS: mail.TLSStartTLS}, c.Email.SMTP)
	require.Equal(t, 6*time.Hour, c.Email.DigestPeriod)
	require.True(t, c.Email.WelcomeAfterVerification)

	_, err = LoadConfig(envMap(with(map[string]string{"SMTP_HOST": "smtp.example.com"})))
	require.ErrorContains(t, err, "SMTP_FROM is required in production")
	prod["SMTP_FROM"] = "LOKIZ <hi@lokiz.app>"
	_, err = LoadConfig(envMap(with(map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_TLS": "none"})))
	require.ErrorContains(t, err, "plaintext", "production refuses plaintext to a remote host")
	_, err = LoadConfig(envMap(with(map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_TLS": "none", "SMTP_ALLOW_PLAINTEXT": "true"})))
	require.NoError(t, err, "unless explicitly allowed")
	_, err = LoadConfig(envMap(with(map[string]string{"SMTP_HOST": "127.0.0.1", "SMTP_TLS": "none"})))
	require.NoError(t, err, "a relay on this host")
	_, err = LoadConfig(envMap(with(map[string]string{"WELCOME_CREDITS_AFTER_VERIFICATION": "true"})))
	require.ErrorContains(t, err, "WELCOME_CREDITS_AFTER_VERIFICATION needs mail")
	_, err = LoadConfig(envMap(with(map[string]string{"EMAIL_DIGEST_PERIOD": "0s", "SMTP_ALLOW_PLAINTEXT": "maybe"})))
	require.ErrorContains(t, err, "EMAIL_DIGEST_PERIOD")
	require.ErrorContains(t, err, "SMTP_ALLOW_PLAINTEXT")
}

func TestDevMailOnlyInDevelopment(t *testing.T) {
	t.Parallel()
	a := &app{cfg: Config{Env: "production"}, log: discardLogger()}
	stop, err := a.startDevMail()
	require.NoError(t, err)
	stop()
	require.Nil(t, a.devMail, "production never starts the capture server")
	require.Nil(t, a.devMailHandler())

	d := &app{cfg: Config{Env: "development"}, log: discardLogger()}
	stop, err = d.startDevMail()
	require.NoError(t, err)
	t.Cleanup(stop)
	require.NotNil(t, d.devMailHandler())
	require.True(t, d.cfg.Email.Enabled(), "the workers mail the capture server")
	require.Equal(t, mail.TLSNone, d.cfg.Email.SMTP.TLS)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
