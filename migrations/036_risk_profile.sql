-- Risk profile per card (issue 7 §1, latency): the 90-day amount history the unusual_amount and
-- night_sale rules read, as of a time, so the sale path reads one row by primary key plus the few
-- sales since, instead of fetching the card's 90 days of sales rows under the card's lock.
-- It covers the card's approved sales with created_at in (as_of − days, as_of): their times and
-- amounts (oldest first, so the loader drops what has left the window by the sale's time and adds
-- the sales since as_of, and gets exactly the full query's numbers) and the statistics over them,
-- computed by the same SQL as the loader (src/risk/risk.profile.ts). The loader uses a row only
-- when as_of is within the 24 h before the sale (not after it) and time_zone is the operator's;
-- otherwise it computes from sales. Refreshed by startRiskProfileJobs and lazily on a card's sale
-- without a usable one. Derived data: dropping a row loses nothing.
create table card_risk_profile (
  -- No foreign key on purpose: inserting a row would take a key-share lock on the card, which waits
  -- for (and blocks) the sale path's `for update` of that card while the job's batch runs.
  card_id      bigint primary key,
  as_of        timestamptz not null,
  computed_at  timestamptz not null default now(),
  -- hour_counts are local hours in this zone: a profile from another zone is not used.
  time_zone    text not null,
  days         int not null check (days > 0),
  sales        int not null check (sales >= 0),
  mean         float8 not null,
  sd           float8 not null,
  p95          float8 not null,
  -- approved sales per local hour 0–23; night_sale picks its own hours (a parameter) from it.
  hour_counts  int[] not null check (array_length(hour_counts, 1) = 24),
  sale_times   timestamptz[] not null,
  amounts      bigint[] not null,
  check (coalesce(array_length(sale_times, 1), 0) = sales and coalesce(array_length(amounts, 1), 0) = sales)
);
-- The refresh job takes the oldest first.
create index card_risk_profile_as_of on card_risk_profile(as_of);
