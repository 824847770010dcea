-- Payments and subscriptions (issue 13). An order is one payment at a
-- provider for a credit package or a plan's first period; its status follows
-- lokiz.OrderCanMove (pending → paid → fulfilled; pending → failed |
-- canceled; paid | fulfilled → refunded). Credits reach the ledger only
-- through the business transactions of db/payment_tx.go and
-- db/subscription_tx.go, keyed by the order or by the subscription period.

-- +goose Up
CREATE TABLE subscriptions (
    id                       uuid PRIMARY KEY,
    user_id                  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan                     text NOT NULL CHECK (plan IN ('basic', 'pro', 'enterprise')),
    provider                 text NOT NULL CHECK (provider IN ('stripe', 'toss')),
    provider_subscription_id text NOT NULL CHECK (length(provider_subscription_id) BETWEEN 1 AND 200),
    status                   text NOT NULL DEFAULT 'active'
                             CHECK (status IN ('active', 'canceling', 'past_due', 'expired')),
    current_period_start     timestamptz NOT NULL,
    current_period_end       timestamptz NOT NULL CHECK (current_period_end > current_period_start),
    cancel_at_period_end     boolean NOT NULL DEFAULT false,
    -- Toss: the billing key our scheduler charges each period with, and the
    -- customer key it was issued for. Secrets: never in an api answer.
    billing_key              text CHECK (length(billing_key) <= 200),
    customer_key             text CHECK (length(customer_key) <= 300),
    canceled_at              timestamptz,
    expired_at               timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CHECK (provider <> 'toss' OR (billing_key IS NOT NULL AND customer_key IS NOT NULL))
);
CREATE UNIQUE INDEX subscriptions_provider_id_key ON subscriptions (provider, provider_subscription_id);
-- At most one live subscription per user.
CREATE UNIQUE INDEX subscriptions_user_live_key ON subscriptions (user_id) WHERE status <> 'expired';
-- Expiry and renewal scans: live subscriptions by period end.
CREATE INDEX subscriptions_period_end_idx ON subscriptions (current_period_end) WHERE status <> 'expired';
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id, created_at DESC);

CREATE TABLE payment_orders (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind IN ('package', 'plan')),
    item_id             text NOT NULL CHECK (length(item_id) BETWEEN 1 AND 100),
    provider            text NOT NULL CHECK (provider IN ('stripe', 'toss')),
    -- In the currency's minor unit (US cents; won has none).
    amount              bigint NOT NULL CHECK (amount > 0),
    currency            text NOT NULL CHECK (currency IN ('usd', 'krw')),
    -- What fulfilment grants: the package's credits; 0 for a plan, whose
    -- credits come with each paid period of its subscription.
    credits             integer NOT NULL CHECK (credits >= 0),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'paid', 'fulfilled', 'failed', 'canceled', 'refunded')),
    provider_session_id text CHECK (length(provider_session_id) <= 200),
    provider_payment_id text CHECK (length(provider_payment_id) <= 200),
    subscription_id     uuid REFERENCES subscriptions (id) ON DELETE SET NULL,
    failure_reason      text CHECK (char_length(failure_reason) <= 500),
    refunded_amount     bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    credits_clawed_back integer NOT NULL DEFAULT 0 CHECK (credits_clawed_back >= 0 AND credits_clawed_back <= credits),
    paid_at             timestamptz,
    fulfilled_at        timestamptz,
    refunded_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (status IN ('pending', 'failed', 'canceled') OR (paid_at IS NOT NULL AND provider_payment_id IS NOT NULL)),
    CHECK (status <> 'fulfilled' OR fulfilled_at IS NOT NULL),
    CHECK (status <> 'refunded' OR refunded_at IS NOT NULL)
);
CREATE UNIQUE INDEX payment_orders_session_key ON payment_orders (provider, provider_session_id);
CREATE UNIQUE INDEX payment_orders_payment_key ON payment_orders (provider, provider_payment_id);
CREATE INDEX payment_orders_user_idx ON payment_orders (user_id, created_at DESC, id DESC);
-- The reconciler's scan: orders still waiting for the provider (pending) or
-- for fulfilment (paid), oldest first.
CREATE INDEX payment_orders_unsettled_idx ON payment_orders (created_at) WHERE status IN ('pending', 'paid');

-- Webhook deliveries already seen: a duplicate is dropped.
CREATE TABLE payment_events (
    provider    text NOT NULL CHECK (provider IN ('stripe', 'toss')),
    event_id    text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 255),
    event_type  text NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX payment_events_received_idx ON payment_events (received_at);

-- +goose Down
DROP TABLE payment_events;
DROP TABLE payment_orders;
DROP TABLE subscriptions;
