package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/bcrypt"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

const adminUsage = "lokiz admin create <username> [-email E] | grant <username> | revoke <username>"

// runAdmin makes and unmakes administrators. No API route changes a role:
// this command, run by an operator with the database's credentials, is the
// only way, and each change is one row of the audit log (actor: none, the
// command line) in the transaction of the change.
//
// create takes its password from LOKIZ_ADMIN_PASSWORD, or generates one and
// prints it once; it never prompts, so it runs in scripts and containers.
func runAdmin(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "admin")
	email := fs.String("email", "", "e-mail address of the new admin (create; default <username>@admin.invalid)")
	// Flags may follow the positional arguments: parse until none are left.
	var pos []string
	rest := args
	for {
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(pos) != 2 || !slices.Contains([]string{"create", "grant", "revoke"}, pos[0]) {
		fmt.Fprintln(env.stderr, "usage: "+adminUsage)
		return errUsage
	}
	verb, username := pos[0], lokiz.NormalizeUsername(pos[1])
	if msg := lokiz.ValidateUsername(username); msg != "" {
		fmt.Fprintf(env.stderr, "username %s\n", msg)
		return errUsage
	}
	a, err := loadApp(env, "admin")
	if err != nil {
		return err
	}
	if err := a.connect(ctx, true); err != nil {
		return err
	}
	defer a.close()

	switch verb {
	case "create":
		return a.createAdmin(ctx, env, username, *email)
	case "grant", "revoke":
		role := lokiz.RoleAdmin
		if verb == "revoke" {
			role = lokiz.RoleUser
		}
		u, changed, err := a.store.SetRoleByUsername(ctx, username, role)
		if err != nil {
			return err
		}
		if !changed {
			fmt.Fprintf(env.stdout, "%s is already %s\n", u.Username, role)
			return nil
		}
		fmt.Fprintf(env.stdout, "%s is now %s\n", u.Username, role)
		return nil
	}
	return errUsage
}

func (a *app) createAdmin(ctx context.Context, env *environment, username, email string) error {
	if email == "" {
		email = username + "@admin.invalid"
	}
	email = lokiz.NormalizeEmail(email)
	if msg := lokiz.ValidateEmail(email); msg != "" {
		fmt.Fprintf(env.stderr, "-email %s\n", msg)
		return errUsage
	}
	password, generated := env.getenv("LOKIZ_ADMIN_PASSWORD"), false
	if password == "" {
		password, generated = rand.Text(), true
	}
	if msg := lokiz.ValidatePassword(password); msg != "" {
		return fmt.Errorf("LOKIZ_ADMIN_PASSWORD %s", msg)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), a.cfg.Auth.BcryptCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	u, err := a.store.CreateAdmin(ctx, db.RegisterUserParams{Username: username, Email: email, HashedPassword: string(hash)})
	if lokiz.ErrorCode(err) == lokiz.ECONFLICT {
		var le *lokiz.Error
		errors.As(err, &le)
		return fmt.Errorf("%s (to make an existing account an admin: lokiz admin grant %s)", le.Message, username)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "created admin %s <%s>\n", u.Username, u.Email)
	if generated {
		fmt.Fprintf(env.stdout, "password (shown once): %s\n", password)
	}
	return nil
}
