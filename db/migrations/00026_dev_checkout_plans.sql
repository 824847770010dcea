-- The development checkout sells plans too (`lokiz dev` without provider
-- keys): a plan bought there is a subscription of provider 'dev', renewed by
-- our scheduler like a Toss one, and its orders (the first period and each
-- renewal) are of provider 'dev'. cmd/lokiz never enables it in production.
-- The development checkout's package orders stay provider 'stripe'.

-- +goose Up
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_provider_check,
    ADD CONSTRAINT subscriptions_provider_check CHECK (provider IN ('stripe', 'toss', 'dev'));
ALTER TABLE payment_orders DROP CONSTRAINT payment_orders_provider_check,
    ADD CONSTRAINT payment_orders_provider_check CHECK (provider IN ('stripe', 'toss', 'dev'));

-- +goose Down
DELETE FROM payment_orders WHERE provider = 'dev';
DELETE FROM subscriptions WHERE provider = 'dev';
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_provider_check,
    ADD CONSTRAINT subscriptions_provider_check CHECK (provider IN ('stripe', 'toss'));
ALTER TABLE payment_orders DROP CONSTRAINT payment_orders_provider_check,
    ADD CONSTRAINT payment_orders_provider_check CHECK (provider IN ('stripe', 'toss'));
