package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/uuid"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/mail/mailtest"
	"github.com/lokiz/lokiz/media/mediatest"
	"github.com/lokiz/lokiz/payments"
	"github.com/lokiz/lokiz/payments/tosssim"
	"github.com/lokiz/lokiz/replicate/sim"
	"github.com/lokiz/lokiz/storage"
	"github.com/lokiz/lokiz/worker"
)

// startRole is the common start of the long-running roles: parse flags,
// validate config, connect, and refuse a database with pending migrations.
func startRole(ctx context.Context, env *environment, name string, args []string) (*app, error) {
	fs := newFlags(env, name)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	a, err := loadApp(env, name)
	if err != nil {
		return nil, err
	}
	// Checked before connecting, like every configuration problem.
	if name == "api" {
		if err := a.cfg.RequireCORSOrigins(); err != nil {
			return nil, err
		}
	}
	if name == "api" || name == "worker" { // the roles that start spans
		if err := a.startTracing(ctx); err != nil {
			return nil, err
		}
	}
	if err := a.connect(ctx, true); err != nil {
		a.close() // flushes nothing yet, stops the exporter
		return nil, err
	}
	return a, nil
}

func runAPI(ctx context.Context, env *environment, args []string) error {
	a, err := startRole(ctx, env, "api", args)
	if err != nil {
		return err
	}
	defer a.close()
	return a.serveAPI(ctx, nil)
}

func runWorker(ctx context.Context, env *environment, args []string) error {
	a, err := startRole(ctx, env, "worker", args)
	if err != nil {
		return err
	}
	defer a.close()
	return a.runWorkerRole(ctx)
}

func runScheduler(ctx context.Context, env *environment, args []string) error {
	a, err := startRole(ctx, env, "scheduler", args)
	if err != nil {
		return err
	}
	defer a.close()
	return a.runSchedulerRole(ctx)
}

func runDashboard(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "dashboard")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := loadApp(env, "dashboard")
	if err != nil {
		return err
	}
	// Checked before connecting: production without a password never starts.
	if err := a.cfg.RequireDashboardPassword(); err != nil {
		return err
	}
	if err := a.connect(ctx, false); err != nil {
		return err
	}
	defer a.close()
	return a.serveDashboard(ctx, nil, nil)
}

func runMigrate(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "migrate")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "up" && fs.Arg(0) != "status") {
		fmt.Fprintln(env.stderr, "usage: lokiz migrate up|status")
		return errUsage
	}
	a, err := loadApp(env, "migrate")
	if err != nil {
		return err
	}
	if err := a.connect(ctx, false); err != nil {
		return err
	}
	defer a.close()
	if fs.Arg(0) == "up" {
		applied, err := db.Migrate(ctx, a.pool)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(env.stdout, "database is up to date")
		}
		for _, v := range applied {
			fmt.Fprintf(env.stdout, "applied migration %05d\n", v)
		}
		return nil
	}
	st, err := db.Status(ctx, a.pool)
	if err != nil {
		return err
	}
	pending := 0
	for _, s := range st {
		state := "applied"
		if !s.Applied {
			state = "pending"
			pending++
		}
		fmt.Fprintf(env.stdout, "%05d  %-8s %s\n", s.Version, state, s.Name)
	}
	fmt.Fprintf(env.stdout, "%d migrations, %d pending\n", len(st), pending)
	return nil
}

// runDev is the laptop mode: migrate, then every role in one process.
// The first role to fail stops the others.
func runDev(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "dev")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := loadApp(env, "dev")
	if err != nil {
		return err
	}
	if err := a.cfg.RequireCORSOrigins(); err != nil {
		return err
	}
	if err := a.startTracing(ctx); err != nil {
		return err
	}
	if err := a.connect(ctx, false); err != nil {
		a.close()
		return err
	}
	defer a.close()
	applied, err := db.Migrate(ctx, a.pool)
	if err != nil {
		return err
	}
	a.log.Info("migrations applied", "count", len(applied))
	if a.cfg.AI.ReplicateToken == "" {
		stop, err := a.startDevReplicate()
		if err != nil {
			return err
		}
		defer stop()
	}
	stopPayments, err := a.startDevPayments()
	if err != nil {
		return err
	}
	defer stopPayments()
	stopMail, err := a.startDevMail()
	if err != nil {
		return err
	}
	defer stopMail()
	return a.runAll(ctx, nil)
}

// startDevPayments gives `lokiz dev` payment providers that work offline:
// without STRIPE_SECRET_KEY, Stripe purchases go through the development
// checkout (a page on the api with "Pay" and "Fail" buttons); without
// TOSS_SECRET_KEY, the Toss simulator runs in this process and the Toss
// configuration points at it, webhooks included. Production never gets
// either.
func (a *app) startDevPayments() (stop func(), err error) {
	stop = func() {}
	if a.cfg.Production() {
		return stop, nil
	}
	if a.cfg.Payments.StripeSecretKey == "" {
		a.devCheckout = payments.NewDevCheckout(a.cfg.HTTP.PublicBaseURL)
		a.log.Info("development checkout in use (STRIPE_SECRET_KEY is not set): Stripe purchases open "+
			a.cfg.HTTP.PublicBaseURL+payments.DevCheckoutPath+"…", "component", "payments")
	}
	if a.cfg.Payments.TossSecretKey == "" {
		token := uuid.NewString()
		s, err := tosssim.Start(tosssim.Options{
			WebhookURL: a.cfg.HTTP.PublicBaseURL + "/v1/webhooks/toss?token=" + token,
			Logger:     a.log.With("component", "toss-sim"),
		})
		if err != nil {
			return nil, fmt.Errorf("toss simulator: %w", err)
		}
		a.cfg.Payments.TossSecretKey, a.cfg.Payments.TossClientKey = s.SecretKey(), s.ClientKey()
		a.cfg.Payments.TossAPIBase, a.cfg.Payments.TossWebhookToken = s.URL(), token
		a.tossSim = s
		a.log.Info("Toss simulator started (TOSS_SECRET_KEY is not set)", "url", s.URL())
		stop = func() { _ = s.Close() }
	}
	return stop, nil
}

// startDevMail gives `lokiz dev` a mail server when SMTP_HOST is not set:
// an in-process SMTP server (mail/mailtest) on a loopback port that keeps
// every message, listed by the api at /dev/mail. Production never gets one.
func (a *app) startDevMail() (stop func(), err error) {
	if a.cfg.Production() || a.cfg.Email.Enabled() {
		return func() {}, nil
	}
	s, err := mailtest.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a.cfg.Email.SMTP = mail.Config{Host: s.Host(), Port: s.Port(), TLS: mail.TLSNone, From: a.cfg.Email.SMTP.From}
	a.devMail = s
	a.log.Info("development mail server started (SMTP_HOST is not set): read the mail at "+
		a.cfg.HTTP.PublicBaseURL+"/dev/mail", "component", "mail", "smtp", s.Addr())
	return func() { _ = s.Close() }, nil
}

// startDevReplicate runs the Replicate simulator inside `lokiz dev` when no
// real token is configured, and points the AI configuration at it: the
// whole studio then works offline, webhooks included.
func (a *app) startDevReplicate() (stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("replicate simulator: %w", err)
	}
	base := "http://" + ln.Addr().String()
	s := sim.New(sim.Options{BaseURL: base, WebhookSecret: a.cfg.AI.WebhookSecret, Logger: a.log.With("component", "replicate-sim")})
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	a.cfg.AI.ReplicateToken = "dev-simulator"
	a.cfg.AI.ReplicateBaseURL = base + "/v1"
	a.simOrigin = base // the worker fetches this simulator's outputs
	a.cfg.AI.WebhookSecret = s.WebhookSecret()
	a.log.Info("Replicate simulator started (REPLICATE_API_TOKEN is not set)", "url", base)
	return func() {
		_ = srv.Close()
		_ = s.Close()
	}, nil
}

// runAll runs api, worker, scheduler and dashboard together. apiReady, when
// not nil, receives the api's bound address.
func (a *app) runAll(ctx context.Context, apiReady chan<- string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.serveAPI(gctx, apiReady) })
	g.Go(func() error { return a.runWorkerRole(gctx) })
	g.Go(func() error { return a.runSchedulerRole(gctx) })
	g.Go(func() error { return a.serveDashboard(gctx, nil, a.apiMetricsHandler()) })
	return g.Wait()
}

// runSeed creates demo accounts; running it again changes nothing.
func runSeed(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "seed")
	password := fs.String("password", "lokiz-demo-1234", "password of the demo accounts (and of the bulk accounts)")
	bulk := fs.Bool("bulk", false, "instead of the demo accounts, fill an empty database with set-based SQL: -users accounts "+
		"(bulk_000001...), -videos videos, -likes likes and -follows follows (the load harness, docs/benchmarks.md)")
	var size bulkSize
	fs.IntVar(&size.users, "users", 200, "with -bulk: accounts")
	fs.IntVar(&size.videos, "videos", 2000, "with -bulk: videos")
	fs.IntVar(&size.likes, "likes", 16700, "with -bulk: likes")
	fs.IntVar(&size.follows, "follows", 0, "with -bulk: follows")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *bulk {
		if err := size.check(); err != nil {
			fmt.Fprintln(env.stderr, err)
			return errUsage
		}
	}
	if msg := lokiz.ValidatePassword(*password); msg != "" {
		fmt.Fprintf(env.stderr, "-password %s\n", msg)
		return errUsage
	}
	a, err := loadApp(env, "seed")
	if err != nil {
		return err
	}
	if a.cfg.Production() {
		return errors.New("seed creates accounts with a known password and refuses to run in production")
	}
	if err := a.connect(ctx, true); err != nil {
		return err
	}
	defer a.close()
	if *bulk {
		took, err := a.seedBulk(ctx, size, *password)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "seeded %d users, %d videos, %d likes, %d follows in %.2f s; the accounts bulk_000001... log in with the password %q\n",
			size.users, size.videos, size.likes, size.follows, took.Seconds(), *password)
		return nil
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(*password), a.cfg.Auth.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	accounts := []struct{ username, role string }{
		{"admin", lokiz.RoleAdmin}, {"demo", lokiz.RoleUser}, {"demo_friend", lokiz.RoleUser},
	}
	for _, acc := range accounts {
		email := acc.username + "@lokiz.dev"
		u, err := a.store.RegisterUser(ctx, db.RegisterUserParams{
			Username: acc.username, Email: email, HashedPassword: string(hash), Role: acc.role})
		switch {
		case lokiz.ErrorCode(err) == lokiz.ECONFLICT:
			fmt.Fprintf(env.stdout, "exists   %-12s %s\n", acc.username, email)
		case err != nil:
			return err
		default:
			fmt.Fprintf(env.stdout, "created  %-12s %s (%s, %d credits)\n", u.Username, email, acc.role, u.Credits)
		}
	}
	fmt.Fprintf(env.stdout, "demo accounts log in with the password %q\n", *password)
	return a.seedVideos(ctx, env)
}

// demoVideos are generated with ffmpeg's test source and go through the
// real pipeline: upload to storage, complete, finalize.
var demoVideos = []struct {
	owner, caption string
	seconds        float64
}{
	{"demo", "First light on LOKIZ #hello #lokiz", 4},
	{"demo", "Colour bars at golden hour #test #glitch", 3},
	{"demo_friend", "오늘의 테스트 패턴 #먹방 #lokiz", 5},
}

// seedVideos gives the demo accounts a few real videos, once.
func (a *app) seedVideos(ctx context.Context, env *environment) error {
	finalize := worker.NewVideoFinalizeHandler(a.store, a.storage,
		worker.MediaConfig{MaxDuration: a.cfg.Media.VideoMaxDuration}, a.log)
	dir, err := os.MkdirTemp("", "lokiz-seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i, d := range demoVideos {
		owner, err := a.store.UserGetByUsername(ctx, d.owner)
		if err != nil {
			return fmt.Errorf("seed videos: %w", err)
		}
		existing, err := a.store.VideoListByUser(ctx, db.VideoListByUserParams{UserID: owner.ID, ViewerID: &owner.ID, Lim: 100})
		if err != nil {
			return err
		}
		if slices.ContainsFunc(existing, func(r db.VideoListByUserRow) bool { return r.Video.Caption == d.caption }) {
			fmt.Fprintf(env.stdout, "exists   video %q\n", d.caption)
			continue
		}
		file := filepath.Join(dir, fmt.Sprintf("demo%d.mp4", i))
		if err := mediatest.GenerateVideo(ctx, file, mediatest.VideoOptions{
			Duration: d.seconds, Width: 360, Height: 640, Audio: true, FastStart: true}); err != nil {
			return fmt.Errorf("generate demo video: %w", err)
		}
		id, err := a.uploadFile(ctx, owner.ID, file, d.caption)
		if err != nil {
			return err
		}
		if err := finalize.Finalize(ctx, id); err != nil {
			return fmt.Errorf("finalize demo video: %w", err)
		}
		fmt.Fprintf(env.stdout, "created  video %q by %s\n", d.caption, d.owner)
	}
	return nil
}

// uploadFile does what a client does: create the upload, store the file,
// complete it.
func (a *app) uploadFile(ctx context.Context, owner uuid.UUID, file, caption string) (uuid.UUID, error) {
	f, err := os.Open(file)
	if err != nil {
		return uuid.Nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return uuid.Nil, err
	}
	key, err := storage.NewUploadKey("video/mp4")
	if err != nil {
		return uuid.Nil, err
	}
	ct, size := "video/mp4", st.Size()
	v, err := a.store.VideoCreateUpload(ctx, db.VideoCreateUploadParams{
		ID: db.NewID(), UserID: owner, Caption: caption, IsPublic: true, UploadKey: &key, ContentType: &ct, UploadMaxBytes: &size})
	if err != nil {
		return uuid.Nil, err
	}
	if err := a.storage.Put(ctx, key, f, size, ct); err != nil {
		return uuid.Nil, err
	}
	if _, err := a.store.VideoStartProcessing(ctx, db.VideoStartProcessingParams{ID: v.ID, UserID: owner}); err != nil {
		return uuid.Nil, err
	}
	return v.ID, nil
}

// runReplicateSim serves the Replicate simulator. It needs no database:
// REPLICATE_API_TOKEN (optional) is the bearer token it accepts and
// REPLICATE_WEBHOOK_SECRET (whsec_..., optional) signs its webhooks.
func runReplicateSim(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "replicate-sim")
	addr := fs.String("addr", ":8090", "listen address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := LoadRoleConfig("replicate-sim", env.getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, env.stderr).With("component", "replicate-sim")
	ln, err := env.Listen(*addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	log.Info("listening", "addr", *addr)
	return sim.Serve(ctx, ln, sim.Options{
		Token:         env.getenv("REPLICATE_API_TOKEN"),
		WebhookSecret: env.getenv("REPLICATE_WEBHOOK_SECRET"),
		Logger:        log,
	})
}
