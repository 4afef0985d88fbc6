-- Channel sources: where web forms and ad-platform webhooks send leads
-- (POST /v1/intake/{token} on the daemon's public HTTPS listener). A source
-- belongs to one tenant and says which channel, default project and origin
-- its leads get, how its form fields map onto lead fields, where a form may
-- be sent back to (return URLs) and which browser origins may post (CORS).
--
-- The token is the only credential a web page can carry: it is generated
-- here, shown once, and only its SHA-256 is stored. A rotated token keeps
-- working until old_token_until, so that pages can be updated. A source
-- with an HMAC secret accepts only signed requests (webhooks of platforms
-- that sign); the secret must be kept in clear to verify signatures.

CREATE TABLE branchline.channel_sources (
    tenant_id bigint NOT NULL REFERENCES branchline.tenants,
    id bigint GENERATED ALWAYS AS IDENTITY,
    name text NOT NULL,
    channel text NOT NULL,
    project_id bigint,                  -- NULL: the submission must name a project
    origin_id bigint NOT NULL,
    return_urls text[] NOT NULL DEFAULT '{}',
    cors_origins text[] NOT NULL DEFAULT '{}',
    field_map jsonb NOT NULL DEFAULT '{}',      -- {"form field": "lead field"}
    token_hash bytea NOT NULL UNIQUE,
    old_token_hash bytea UNIQUE,
    old_token_until timestamptz,
    hmac_secret text,
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, project_id) REFERENCES branchline.projects (tenant_id, id),
    FOREIGN KEY (tenant_id, origin_id) REFERENCES branchline.units (tenant_id, id)
);
CALL branchline.isolate('branchline.channel_sources');
-- The token lookup runs before any tenant is known, like the subject lookup
-- of principals (002): a SECURITY DEFINER function reads through this
-- policy, which names the owner only.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY owner_lookup ON branchline.channel_sources TO %I USING (true) WITH CHECK (true)',
                   current_user);
END
$$;
GRANT SELECT, INSERT, UPDATE ON branchline.channel_sources TO branchline_app;
