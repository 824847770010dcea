package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// RegisterUserParams are the already validated and normalized facts of a new
// account; HashedPassword is a bcrypt hash.
type RegisterUserParams struct {
	Username       string
	Email          string
	HashedPassword string
	Role           string // "" means lokiz.RoleUser
	// Language is the user's mail language ("en" or "ko"); "" keeps the
	// default, English.
	Language string
	// WelcomeOnVerification defers the welcome credits to the first e-mail
	// verification (WELCOME_CREDITS_AFTER_VERIFICATION; see VerifyEmail).
	WelcomeOnVerification bool
}

// RegisterUser creates the user and grants the initial credits as a ledger
// row in the same transaction. A taken email or username is a conflict, also
// when two registrations race (the unique index decides).
func (s *Store) RegisterUser(ctx context.Context, p RegisterUserParams) (User, error) {
	return s.registerUser(ctx, p, nil)
}

// registerUser is RegisterUser; then, when not nil, runs in the same
// transaction with the new user (an admin's creation writes its audit row).
func (s *Store) registerUser(ctx context.Context, p RegisterUserParams, then func(q *Queries, u User) error) (User, error) {
	role := p.Role
	if role == "" {
		role = lokiz.RoleUser
	}
	runThen := func(q *Queries, u User) error {
		if then == nil {
			return nil
		}
		return then(q, u)
	}
	var user User
	err := s.InTx(ctx, func(q *Queries) error {
		id := NewID()
		u, err := q.UserCreate(ctx, UserCreateParams{
			ID:             id,
			Username:       p.Username,
			Email:          p.Email,
			HashedPassword: p.HashedPassword,
			DisplayName:    &p.Username,
			Role:           role,
		})
		if err != nil {
			return err
		}
		if p.Language != "" {
			if err := q.UserSetLanguage(ctx, UserSetLanguageParams{ID: id, Language: p.Language}); err != nil {
				return err
			}
			u.Language = p.Language
		}
		if p.WelcomeOnVerification {
			user = u
			return runThen(q, u)
		}
		tx, _, err := applyCredits(ctx, q, CreditChange{
			UserID:         id,
			Type:           lokiz.CreditBonus,
			Delta:          lokiz.InitialCredits,
			Description:    "Welcome bonus",
			IdempotencyKey: WelcomeKey(id),
		})
		if err != nil {
			return err
		}
		u.Credits = tx.BalanceAfter
		user = u
		return runThen(q, u)
	})

	if name, ok := IsUniqueViolation(err); ok {
		switch name {
		case "users_email_key":
			return User{}, fmt.Errorf("%w: %w", lokiz.Errorf(lokiz.ECONFLICT, "Email already registered"), err)
		case "users_username_key":
			return User{}, fmt.Errorf("%w: %w", lokiz.Errorf(lokiz.ECONFLICT, "Username already taken"), err)
		}
	}
	if err != nil {
		return User{}, fmt.Errorf("register user: %w", translate(err, "user"))
	}
	return user, nil
}

// UserByID returns the user or not_found.
func (s *Store) UserByID(ctx context.Context, id uuid.UUID) (User, error) {
	u, err := s.UserGetByID(ctx, id)
	return u, translate(err, "user")
}
