-- Cross-replica events. Every change that another replica holds in memory (a revocation, an
-- agent's status, an approval's decision, a pin, a policy version, tokens and users) is announced
-- on the channel `mandate_events` by a trigger, in the very transaction that makes the change:
-- PostgreSQL delivers a NOTIFY only when that transaction commits, so a replica never hears of a
-- change that did not happen, and never misses one that did while it was listening. (A replica
-- that loses its listening connection re-reads the store before it trusts its caches again.)
-- Payloads are small JSON objects (`k` says what changed); PostgreSQL caps them at 8000 bytes.

CREATE FUNCTION mandate_notify_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mandate_events', json_build_object('k', 'revoked', 'task', NEW.task_id, 'at', NEW.revoked_at,
    'exp', NEW.expires_at, 'reason', left(NEW.reason, 1000))::text);
  RETURN NULL;
END $$;
CREATE TRIGGER revocations_notify AFTER INSERT ON revocations FOR EACH ROW EXECUTE FUNCTION mandate_notify_revocation();

CREATE FUNCTION mandate_notify_agent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM pg_notify('mandate_events', json_build_object('k', 'agent', 'id', NEW.id, 'status', NEW.status)::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER agents_notify AFTER UPDATE ON agents FOR EACH ROW EXECUTE FUNCTION mandate_notify_agent();

CREATE FUNCTION mandate_notify_approval() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status OR NEW.decisions IS DISTINCT FROM OLD.decisions THEN
    PERFORM pg_notify('mandate_events', json_build_object('k', 'approval', 'id', NEW.id, 'status', NEW.status)::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER approvals_notify AFTER UPDATE ON approvals FOR EACH ROW EXECUTE FUNCTION mandate_notify_approval();

CREATE FUNCTION mandate_notify_pin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mandate_events', json_build_object('k', 'pins', 'upstream', NEW.upstream)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER tool_pins_notify AFTER INSERT OR UPDATE ON tool_pins FOR EACH ROW EXECUTE FUNCTION mandate_notify_pin();

CREATE FUNCTION mandate_notify_policy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mandate_events', json_build_object('k', 'policy', 'version', NEW.version, 'hash', NEW.hash)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER policy_versions_notify AFTER INSERT ON policy_versions FOR EACH ROW EXECUTE FUNCTION mandate_notify_policy();

CREATE FUNCTION mandate_notify_credentials() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mandate_events', json_build_object('k', 'callers', 'table', TG_TABLE_NAME)::text);
  RETURN NULL;
END $$;
CREATE TRIGGER api_tokens_notify AFTER INSERT OR UPDATE ON api_tokens FOR EACH ROW EXECUTE FUNCTION mandate_notify_credentials();
CREATE TRIGGER users_notify AFTER INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION mandate_notify_credentials();
