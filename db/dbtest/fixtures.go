package dbtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/lokiz/lokiz/db"
)

// DefaultPassword is the password of every user CreateUser makes.
const DefaultPassword = "correct-horse-battery"

var (
	userSeq      atomic.Int64
	passwordHash = func() string {
		h, err := bcrypt.GenerateFromPassword([]byte(DefaultPassword), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		return string(h)
	}()
)

// UserOpts customises CreateUser; zero values get unique defaults.
type UserOpts struct {
	Username string
	Email    string
	Role     string
}

// CreateUser registers a user (with the initial credits ledger row) and
// fails t on error. Its password is DefaultPassword.
func CreateUser(t testing.TB, store *db.Store, opts UserOpts) db.User {
	t.Helper()
	n := userSeq.Add(1)
	if opts.Username == "" {
		opts.Username = fmt.Sprintf("user%d_%s", n, randomHex(3))
	}
	if opts.Email == "" {
		opts.Email = opts.Username + "@example.com"
	}
	u, err := store.RegisterUser(context.Background(), db.RegisterUserParams{
		Username: opts.Username, Email: opts.Email, HashedPassword: passwordHash, Role: opts.Role,
	})
	if err != nil {
		t.Fatalf("dbtest: create user %s: %v", opts.Username, err)
	}
	return u
}
