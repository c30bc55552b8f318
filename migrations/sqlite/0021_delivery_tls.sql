-- Outbound TLS that cannot be downgraded (RFC 8461 MTA-STS, RFC 7672 DANE, RFC 8460 TLS-RPT,
-- RFC 8689 REQUIRETLS). Kept in step with ../postgres/0021_delivery_tls.sql.

-- A recipient domain's MTA-STS policy as last fetched: used until it expires (max_age), and
-- fetched again when the domain's _mta-sts TXT record gives another id (RFC 8461 section 5.1).
-- Kept in the store, not in memory, so a restart or another node does not forget a policy an
-- attacker could then strip by blocking the TXT lookup.
CREATE TABLE mta_sts_policies (
    domain TEXT PRIMARY KEY,
    policy_id TEXT NOT NULL,
    policy TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- TLS-RPT (RFC 8460 section 4): how many delivery sessions ended how, per UTC day, policy
-- domain, policy, result and receiving host. result_type is '' for a success.
CREATE TABLE tls_results (
    day TEXT NOT NULL,
    policy_domain TEXT NOT NULL,
    policy_type TEXT NOT NULL,
    policy_text TEXT NOT NULL,
    result_type TEXT NOT NULL,
    mx_host TEXT NOT NULL,
    receiving_ip TEXT NOT NULL,
    detail TEXT NOT NULL,
    sessions INTEGER NOT NULL,
    PRIMARY KEY (day, policy_domain, policy_type, result_type, mx_host, receiving_ip)
);

-- Which day's report went to which domain, so that each is sent once across restarts and nodes.
CREATE TABLE tls_reports_sent (
    day TEXT NOT NULL,
    policy_domain TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (day, policy_domain)
);

-- 1 when the sender asked for REQUIRETLS (RFC 8689): deliver only over verified TLS.
ALTER TABLE queue_messages ADD COLUMN require_tls INTEGER NOT NULL DEFAULT 0;
