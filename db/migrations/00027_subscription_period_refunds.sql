-- Refunds of subscription periods that have no order of ours (Stripe's
-- renewal invoices): one row per subscription and period, written with the
-- clawback of that period's monthly credits in one transaction
-- (Store.RefundSubscriptionPeriod). The row is what makes the clawback
-- happen once, also when it took nothing (a balance of zero): a later
-- refund event of the same period only raises refunded_amount.

-- +goose Up
CREATE TABLE subscription_period_refunds (
    subscription_id     uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    period_start        timestamptz NOT NULL,
    period_end          timestamptz NOT NULL CHECK (period_end > period_start),
    -- The provider's payment (Stripe charge id) and invoice.
    provider_payment_id text NOT NULL CHECK (length(provider_payment_id) BETWEEN 1 AND 200),
    invoice_id          text NOT NULL CHECK (length(invoice_id) BETWEEN 1 AND 200),
    -- In the currency's minor unit, as the provider reports it (the total
    -- refunded so far).
    amount              bigint NOT NULL CHECK (amount > 0),
    refunded_amount     bigint NOT NULL CHECK (refunded_amount > 0 AND refunded_amount <= amount),
    currency            text NOT NULL CHECK (currency IN ('usd', 'krw')),
    -- The period's monthly credits as granted, and how many were taken back
    -- (never more than the user had).
    credits_granted     integer NOT NULL CHECK (credits_granted >= 0),
    credits_clawed_back integer NOT NULL CHECK (credits_clawed_back >= 0 AND credits_clawed_back <= credits_granted),
    refunded_at         timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscription_id, period_start)
);

-- +goose Down
DROP TABLE subscription_period_refunds;
