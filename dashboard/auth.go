package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
)

// challenge is sent with every 401 so that browsers show their login dialog.
const challenge = `Basic realm="lokiz"`

// requireBasicAuth lets a request through to next only when it carries the
// configured user name and password.
func requireBasicAuth(user, password string, logger *slog.Logger, next http.Handler) http.Handler {
	// Comparing fixed-size digests keeps the comparison time independent of
	// the lengths of the secret and the guess; ConstantTimeCompare alone
	// returns early when the lengths differ.
	wantUser := sha256.Sum256([]byte(user))
	wantPassword := sha256.Sum256([]byte(password))

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPassword, ok := r.BasicAuth()
		u := sha256.Sum256([]byte(gotUser))
		p := sha256.Sum256([]byte(gotPassword))
		// Both halves are always compared (& rather than &&), so the response
		// time does not tell whether the user name alone was right.
		match := subtle.ConstantTimeCompare(u[:], wantUser[:]) & subtle.ConstantTimeCompare(p[:], wantPassword[:])
		if !ok || match != 1 {
			if ok {
				// The attempted user name is left out: people type passwords
				// into the wrong field.
				logger.WarnContext(r.Context(), "dashboard login failed",
					slog.String("remote_addr", r.RemoteAddr),
					slog.String("path", r.URL.Path))
			}
			w.Header().Set("WWW-Authenticate", challenge)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
