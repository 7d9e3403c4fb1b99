-- Sign-ups waiting for the owner of the email to confirm them: accountRegister answers the same
-- whether or not the email has an account, so the account is only made from the mailed link.
CREATE TABLE sign_ups (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash     TEXT NOT NULL UNIQUE,
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    first_name     TEXT NOT NULL,
    last_name      TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL
);
CREATE INDEX sign_ups_expires_at ON sign_ups (expires_at);
