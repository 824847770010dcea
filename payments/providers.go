package payments

// Providers are the providers this deployment is configured with; a nil
// field is a provider that is not configured (its routes answer 503 and its
// orders cannot be created).
type Providers struct {
	Stripe *StripeProvider
	Toss   *TossClient
	// Dev is the development checkout (`lokiz dev` without a Stripe key):
	// it answers for "stripe" when Stripe is not configured, and for "dev",
	// the provider of the plans sold through it. Never set in production.
	Dev *DevCheckout
}

// Get returns the provider called name, if it is configured.
func (p Providers) Get(name string) (Provider, bool) {
	switch {
	case name == Stripe && p.Stripe != nil:
		return p.Stripe, true
	case name == Toss && p.Toss != nil:
		return p.Toss, true
	case (name == Stripe || name == Dev) && p.Dev != nil:
		return p.Dev, true
	}
	return nil, false
}

// Names are the configured providers' names, Stripe first.
func (p Providers) Names() []string {
	var out []string
	if p.Stripe != nil || p.Dev != nil {
		out = append(out, Stripe)
	}
	if p.Toss != nil {
		out = append(out, Toss)
	}
	return out
}
