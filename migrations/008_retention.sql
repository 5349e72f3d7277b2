-- Old idempotency answers are pruned by age.
create index idempotency_keys_created on idempotency_keys(created_at);
-- Login lockout counts recent failures per staff user.
create index audit_log_staff_actions on audit_log(target_id, action, at) where target_type = 'staff';
