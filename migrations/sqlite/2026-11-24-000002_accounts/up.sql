-- Accounts: users with roles, sessions and password-reset tokens (stored as SHA-256 only),
-- addresses; archiving for categories and variants (SQLite).
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Normalised: trimmed, domain lower-cased.
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    first_name     TEXT NOT NULL DEFAULT '',
    last_name      TEXT NOT NULL DEFAULT '',
    role           TEXT NOT NULL CHECK (role IN ('CUSTOMER', 'STAFF', 'ADMIN')),
    -- Lower-cased email and names: what the staff search matches.
    search_text    TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX users_role ON users (role, id);

CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Hex SHA-256 of the token; the token itself is never stored.
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    revoked_at    TIMESTAMP
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE password_resets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX password_resets_user ON password_resets (user_id);

CREATE TABLE addresses (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    first_name    TEXT NOT NULL,
    last_name     TEXT NOT NULL,
    company       TEXT NOT NULL DEFAULT '',
    line1         TEXT NOT NULL,
    line2         TEXT NOT NULL DEFAULT '',
    city          TEXT NOT NULL,
    region        TEXT NOT NULL DEFAULT '',
    postal_code   TEXT NOT NULL DEFAULT '',
    -- ISO 3166-1 alpha-2.
    country_code  TEXT NOT NULL CHECK (length(country_code) = 2),
    phone         TEXT NOT NULL DEFAULT '',
    is_default    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX addresses_user ON addresses (user_id, id);
-- At most one default address per user.
CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id) WHERE is_default;

ALTER TABLE categories ADD COLUMN archived_at TIMESTAMP;
ALTER TABLE variants ADD COLUMN archived_at TIMESTAMP;
