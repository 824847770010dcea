package main

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// startRole is the common start of the long-running roles: parse flags,
// validate config, connect, and refuse a database with pending migrations.
func startRole(ctx context.Context, env *environment, name string, args []string) (*app, error) {
	fs := newFlags(env, name)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	a, err := loadApp(env)
	if err != nil {
		return nil, err
	}
	if err := a.connect(ctx, true); err != nil {
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
	a, err := loadApp(env)
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
	return a.serveDashboard(ctx, nil)
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
	a, err := loadApp(env)
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
	a, err := loadApp(env)
	if err != nil {
		return err
	}
	if err := a.connect(ctx, false); err != nil {
		return err
	}
	defer a.close()
	applied, err := db.Migrate(ctx, a.pool)
	if err != nil {
		return err
	}
	a.log.Info("migrations applied", "count", len(applied))
	return a.runAll(ctx, nil)
}

// runAll runs api, worker, scheduler and dashboard together. apiReady, when
// not nil, receives the api's bound address.
func (a *app) runAll(ctx context.Context, apiReady chan<- string) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.serveAPI(gctx, apiReady) })
	g.Go(func() error { return a.runWorkerRole(gctx) })
	g.Go(func() error { return a.runSchedulerRole(gctx) })
	g.Go(func() error { return a.serveDashboard(gctx, nil) })
	return g.Wait()
}

// runSeed creates demo accounts; running it again changes nothing.
func runSeed(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "seed")
	password := fs.String("password", "lokiz-demo-1234", "password of the demo accounts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if msg := lokiz.ValidatePassword(*password); msg != "" {
		fmt.Fprintf(env.stderr, "-password %s\n", msg)
		return errUsage
	}
	a, err := loadApp(env)
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
	return nil
}
