-- Issue 4, sale flows: a completion declined (a price refused, goods the balance cannot pay) is
-- recorded like any declined sale and keeps its authorisation, whose hold stays open for the
-- terminal's next completion. So "one completion per authorisation" counts the completions that
-- took money (approved, later reversed or voided), not the declined attempts.
drop index if exists sales_one_completion;
create unique index if not exists sales_one_completion_taken on sales(authorisation_id)
  where authorisation_id is not null and status <> 'declined';
