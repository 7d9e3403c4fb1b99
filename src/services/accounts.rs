//! Account use cases: sign-up, sign-in and sessions, email verification (which gives the account
//! the guest orders placed with its email), password change and reset, roles, and the staff list
//! of customers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, TimeDelta, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::json;

use crate::config::{AuthConfig, MailConfig};
use crate::db::models::event::Tracked;
use crate::db::models::sign_up::{self, NewSignUp};
use crate::db::models::user::{self, NewUser, ProfileChanges, User, UserFilter};
use crate::db::models::{email_verification, order, password_reset, session};
use crate::db::{Db, DbConnection, write_transaction};
use crate::domain::accounts::{
    AccountPrincipal, Email, NAME_MAX_CHARS, Password, Principal, Role, account_search_text,
    parse_text,
};
use crate::domain::feeds::{RowKey, RowSort, RowWindow};
use crate::domain::ids::AccountId;
use crate::domain::metadata::MetadataCondition;
use crate::domain::money::Currency;
use crate::domain::paging::{Page, PageRequest};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::bus::Signal;
use crate::services::catalog::searched;
use crate::services::events::recorded_transaction;
use crate::services::mail::{Outbox, OutgoingMail};
use crate::services::passwords::PasswordHasher;
use crate::services::session_cache::SessionCache;
use crate::services::shared_limits::SharedLimits;
use crate::services::throttle::{LoginThrottle, ThrottleKey};
use crate::services::tokens::{SecretToken, hash_token};

/// Prefix of session tokens.
const SESSION_TOKEN_PREFIX: &str = "bzs_";
/// Prefix of password-reset tokens.
const RESET_TOKEN_PREFIX: &str = "bzr_";
/// Prefix of email-verification tokens.
const VERIFICATION_TOKEN_PREFIX: &str = "bzv_";
/// Sign-up confirmation tokens.
const SIGN_UP_TOKEN_PREFIX: &str = "bzu_";
/// How long an email-verification link works.
const VERIFICATION_TTL: TimeDelta = TimeDelta::hours(72);
/// How long a sign-up waits for its confirmation.
const SIGN_UP_TTL: TimeDelta = TimeDelta::hours(72);
/// A session's last use is recorded at most this often.
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

/// The message for every failed sign-in, whatever the reason.
pub const INVALID_CREDENTIALS: &str = "the email or password is incorrect";

/// What account use cases share: hashing, throttling, mail and the session rules.
pub struct Accounts {
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    outbox: Outbox,
    session_ttl: TimeDelta,
    session_idle: TimeDelta,
    reset_ttl: TimeDelta,
    reset_url: String,
    verification_url: String,
    sign_up_url: String,
    /// Dropped from by [`Accounts::hear`]: the bus delivers the notices of the work that ends
    /// sessions as soon as its database call is over, even if the request that asked has been
    /// given up by then (see `db::notices`).
    recent_sessions: Arc<SessionCache>,
}

/// A new session: the token, shown once, and when it ends at the latest.
#[derive(Debug)]
pub struct NewSession {
    /// The bearer token.
    pub token: SecretToken,
    /// The absolute expiry.
    pub expires_at: NaiveDateTime,
    /// The account signed in.
    pub user: User,
}

/// What sign-up asks for.
pub struct Registration<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

/// The staff search over accounts.
#[derive(Debug, Clone)]
pub struct CustomerQuery {
    /// Free text matched against email and names.
    pub search: Option<String>,
    /// Only accounts with this role.
    pub role: Option<Role>,
    /// Only accounts changed at or after this time.
    pub updated_since: Option<NaiveDateTime>,
    /// Only accounts with these metadata entries.
    pub metadata: Vec<MetadataCondition>,
    /// The order of the list (newest first by default).
    pub sort: RowSort,
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn rejected(field: &[&str], code: RejectionCode, message: &str) -> AppError {
    AppError::rejected(Rejection::new(field, code, message))
}

impl Accounts {
    /// Account services from the configuration, sending mail (with links to `mail`'s reset and
    /// verification pages) through `outbox`.
    pub fn new(config: &AuthConfig, mail: &MailConfig, outbox: Outbox) -> Self {
        Self {
            hasher: PasswordHasher::new(
                config.bcrypt_cost,
                config.password_workers.map_or_else(
                    || crate::config::available_cores().saturating_sub(1).max(1),
                    |n| n as usize,
                ),
            ),
            throttle: LoginThrottle::new(config.login_free_attempts),
            outbox,
            session_ttl: TimeDelta::hours(i64::from(config.session_ttl_hours)),
            session_idle: TimeDelta::minutes(i64::from(config.session_idle_minutes)),
            reset_ttl: TimeDelta::minutes(i64::from(config.password_reset_ttl_minutes)),
            reset_url: mail.password_reset_url.clone(),
            verification_url: mail.email_verification_url.clone(),
            sign_up_url: mail.sign_up_url.clone(),
            recent_sessions: Arc::new(SessionCache::new(Duration::from_secs(u64::from(
                config.session_cache_seconds,
            )))),
        }
    }

    /// Keeps the sign-in throttle in Redis, shared by every instance (`None`: in this process).
    pub fn with_shared_limits(mut self, shared: Option<Arc<SharedLimits>>) -> Self {
        self.throttle = self.throttle.shared_through(shared);
        self
    }

    /// Takes a sign-up. The answer is the same whether or not the email has an account, and it
    /// takes as long: the password is hashed and the sign-up stored either way, and the mail,
    /// sent after the answer, is a confirmation link for a new email and a notice to the owner
    /// of one that has an account. [`Self::confirm_sign_up`] makes the account.
    pub async fn register(&self, db: &Db, input: Registration<'_>) -> AppResult<()> {
        let mut problems = Vec::new();
        let email = Email::parse(input.email).map_err(|r| problems.push(r)).ok();
        let password = Password::parse(input.password, "password")
            .map_err(|r| problems.push(r))
            .ok();
        let first_name = parse_text(input.first_name, "firstName", NAME_MAX_CHARS, false)
            .map_err(|r| problems.push(r))
            .ok();
        let last_name = parse_text(input.last_name, "lastName", NAME_MAX_CHARS, false)
            .map_err(|r| problems.push(r))
            .ok();
        let (Some(email), Some(password), Some(first_name), Some(last_name)) =
            (email, password, first_name, last_name)
        else {
            return Err(AppError::Rejected(problems));
        };
        let password_hash = self.hasher.hash(password).await?;
        let token = SecretToken::generate(SIGN_UP_TOKEN_PREFIX);
        let token_hash = token.hash();
        let now = now();
        let to = email.as_str().to_owned();
        let taken = db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let taken = user::credentials_by_email(conn, email.as_str())?.is_some();
                    sign_up::insert(
                        conn,
                        &NewSignUp {
                            token_hash: &token_hash,
                            email: email.as_str(),
                            password_hash: &password_hash,
                            first_name: &first_name,
                            last_name: &last_name,
                            created_at: now,
                            expires_at: now + SIGN_UP_TTL,
                        },
                    )?;
                    Ok(taken)
                })
            })
            .await?;
        let mail = if taken {
            OutgoingMail {
                to,
                subject: "You already have an account".to_owned(),
                body: "Someone, perhaps you, tried to create an account with this address, which \
                       has one already. Sign in with it, or choose a new password with \
                       \"forgot password\" on the sign-in page.\n\n\
                       If it was not you, ignore this message: nothing has changed.\n"
                    .to_owned(),
            }
        } else {
            OutgoingMail {
                to,
                subject: "Confirm your email to finish signing up".to_owned(),
                body: format!(
                    "To create your account, open this link within {} hours:\n{}{}\n\n\
                     Your confirmation code: {}\n\n\
                     If it was not you, ignore this message: no account is made.\n",
                    SIGN_UP_TTL.num_hours(),
                    self.sign_up_url,
                    token.expose(),
                    token.expose(),
                ),
            }
        };
        tracing::info!(existing_account = taken, "sign-up received");
        self.outbox.send_later(mail, "sign-up", None);
        Ok(())
    }

    /// Makes the account of a sign-up from the token mailed for it, its email verified (the
    /// link proved it), and signs it in; orders placed as a guest with the email become its.
    pub async fn confirm_sign_up(&self, db: &Db, token: &str) -> AppResult<NewSession> {
        let invalid = || {
            rejected(
                &["token"],
                RejectionCode::InvalidToken,
                "this sign-up link is unknown, used or expired",
            )
        };
        if token.len() > 200 {
            return Err(invalid());
        }
        let token_hash = hash_token(token);
        let currency = db.currency();
        let user_id = db
            .run(move |conn| {
                recorded_transaction(conn, currency, |conn, changes| {
                    let now = now();
                    let sign_up = sign_up::consume(conn, &token_hash, now)?.ok_or_else(invalid)?;
                    // Parsed when the sign-up was taken; parsed again, as every email is.
                    let email = Email::parse(&sign_up.email).map_err(AppError::rejected)?;
                    let search_text =
                        account_search_text(&email, &sign_up.first_name, &sign_up.last_name);
                    let mut user = user::insert(
                        conn,
                        &NewUser {
                            email: email.as_str(),
                            password_hash: &sign_up.password_hash,
                            first_name: &sign_up.first_name,
                            last_name: &sign_up.last_name,
                            role: Role::Customer,
                            search_text: &search_text,
                            created_at: now,
                            updated_at: now,
                        },
                    )
                    .map_err(|error| match error {
                        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                            rejected(
                                &["token"],
                                RejectionCode::Taken,
                                "this email has an account already: sign in instead",
                            )
                        }
                        other => other.into(),
                    })?;
                    user::mark_email_verified(conn, user.id, now)?;
                    user.email_verified_at = Some(now);
                    changes.customer_created(&user);
                    Ok(user.id)
                })
            })
            .await?;
        tracing::info!(account = user_id.0, "account registered");
        self.start_session(db, user_id).await
    }

    /// Signs in with email and password. Every failure (unknown email, wrong password) is the
    /// same rejection and takes as long; repeated failures are throttled per account and per
    /// client address.
    pub async fn login(
        &self,
        db: &Db,
        client: Option<&str>,
        email: &str,
        password: &str,
    ) -> AppResult<NewSession> {
        let account_key = ThrottleKey::account(email);
        let mut keys = vec![account_key.clone()];
        keys.extend(client.map(ThrottleKey::client));
        // The attempt is counted before the password is checked, so that concurrent attempts
        // cannot all pass the throttle; a success takes it back.
        if let Err(wait) = self.throttle.reserve(&keys).await {
            tracing::warn!("sign-in throttled");
            return Err(AppError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil() as u64,
            });
        }
        let credentials = match Email::parse(email) {
            Ok(email) => {
                db.run(move |conn| Ok(user::credentials_by_email(conn, email.as_str())?))
                    .await?
            }
            Err(_) => None,
        };
        let (user_id, stored_hash) = match credentials {
            Some(c) => (Some(c.id), Some(c.password_hash)),
            None => (None, None),
        };
        let matches = self.hasher.verify(password.to_owned(), stored_hash).await?;
        let Some(user_id) = user_id.filter(|_| matches) else {
            tracing::info!("sign-in failed");
            return Err(rejected(
                &[],
                RejectionCode::InvalidCredentials,
                INVALID_CREDENTIALS,
            ));
        };
        self.throttle.record_success(&account_key, &keys).await;
        let session = self.start_session(db, user_id).await?;
        tracing::info!(account = user_id.0, "signed in");
        Ok(session)
    }

    async fn start_session(&self, db: &Db, user_id: AccountId) -> AppResult<NewSession> {
        let token = SecretToken::generate(SESSION_TOKEN_PREFIX);
        let token_hash = token.hash();
        let (ttl, now) = (self.session_ttl, now());
        let currency = db.currency();
        let user = db
            .run(move |conn| {
                recorded_transaction(conn, currency, |conn, changes| {
                    session::insert(conn, user_id, &token_hash, now, now + ttl)?;
                    let user = user::by_ids(conn, &[user_id])?
                        .pop()
                        .ok_or_else(|| AppError::NotFound("account not found".into()))?;
                    // Orders placed as a guest with this (verified) email since: the account's.
                    if user.email_verified_at.is_some() {
                        for order_id in order::adopt_guest_orders(conn, &user.email, user.id, now)?
                        {
                            changes.touch(Tracked::Orders, order_id);
                        }
                    }
                    Ok(user)
                })
            })
            .await?;
        Ok(NewSession {
            token,
            expires_at: now + ttl,
            user,
        })
    }

    /// Drops the remembered sessions a change made anywhere ended (see the bus).
    pub fn hear(&self, signal: Signal) {
        match signal {
            Signal::SessionEnded(session_id) => self.recent_sessions.forget_session(session_id),
            Signal::AccountChanged(account) => self.recent_sessions.forget_account(account),
            Signal::Resync => self.recent_sessions.forget_all(),
            Signal::EventsWritten(_) | Signal::KeyRevoked(_) | Signal::CategoriesChanged => {}
        }
    }

    /// The caller a bearer token proves, or `UNAUTHENTICATED` when the session is unknown,
    /// revoked, expired or idle too long. Records activity at most once a minute. A session
    /// found live is remembered for a few seconds (`session_cache_seconds`), so that the
    /// caller's next requests skip the lookup; only when `may_use_cache` (the bus has heard
    /// every change made anywhere: a logout, a password or role change drops the entry on every
    /// instance before the change is reported done) is the lookup skipped.
    pub async fn authenticate(
        &self,
        db: &Db,
        token: &str,
        may_use_cache: bool,
    ) -> AppResult<Principal> {
        let token_hash = hash_token(token);
        if may_use_cache && let Some(caller) = self.recent_sessions.get(&token_hash, Instant::now())
        {
            return Ok(Principal::Account(caller));
        }
        let before = self.recent_sessions.generation();
        let idle = self.session_idle;
        let lookup_hash = token_hash.clone();
        let (live, now) = db
            .run(move |conn| {
                let now = now();
                let mut live = session::find_live(conn, &lookup_hash, now, now - idle)?;
                if let Some(live) = &mut live
                    && now - live.last_used_at >= TOUCH_EVERY
                {
                    session::touch(conn, live.session_id, now)?;
                    live.last_used_at = now;
                }
                Ok((live, now))
            })
            .await?;
        let live = live.ok_or_else(|| {
            AppError::Unauthenticated("the session token is invalid, expired or revoked".into())
        })?;
        let caller = AccountPrincipal {
            account_id: live.user_id,
            role: live.role,
            session_id: live.session_id,
        };
        let ends_at = live.expires_at.min(live.last_used_at + idle);
        let live_for = (ends_at - now).to_std().unwrap_or_default();
        self.recent_sessions
            .remember(before, token_hash, caller, live_for, Instant::now());
        Ok(Principal::Account(caller))
    }

    /// Ends the caller's session.
    pub async fn logout(&self, db: &Db, caller: AccountPrincipal) -> AppResult<()> {
        db.run(move |conn| {
            session::revoke(conn, caller.session_id, now())?;
            Ok(())
        })
        .await
    }

    /// Ends every session of the caller's account, this one included; how many ended.
    pub async fn logout_all(&self, db: &Db, caller: AccountPrincipal) -> AppResult<usize> {
        db.run(move |conn| {
            let ended = session::revoke_all(conn, caller.account_id, None, now())?;
            Ok(ended)
        })
        .await
    }

    /// Changes the caller's password after checking the current one, and ends the account's
    /// other sessions and outstanding reset tokens.
    pub async fn change_password(
        &self,
        db: &Db,
        caller: AccountPrincipal,
        current: &str,
        new: &str,
    ) -> AppResult<()> {
        let new = Password::parse(new, "newPassword").map_err(AppError::rejected)?;
        let account_key = [ThrottleKey::account(&format!("id:{}", caller.account_id.0))];
        if let Err(wait) = self.throttle.reserve(&account_key).await {
            return Err(AppError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil() as u64,
            });
        }
        let id = caller.account_id;
        let stored = db
            .run(move |conn| Ok(user::password_hash(conn, id)?))
            .await?;
        if !self.hasher.verify(current.to_owned(), Some(stored)).await? {
            return Err(rejected(
                &["currentPassword"],
                RejectionCode::InvalidCredentials,
                "the current password is incorrect",
            ));
        }
        self.throttle
            .record_success(&account_key[0], &account_key)
            .await;
        let hash = self.hasher.hash(new).await?;
        let currency = db.currency();
        db.run(move |conn| {
            recorded_transaction(conn, currency, |conn, changes| {
                let now = now();
                user::set_password_hash(conn, id, &hash, now)?;
                changes.touch(Tracked::Users, id);
                session::revoke_all(conn, id, Some(caller.session_id), now)?;
                password_reset::invalidate_all(conn, id, now)
            })?;
            Ok(())
        })
        .await?;
        tracing::info!(account = id.0, "password changed; other sessions ended");
        Ok(())
    }

    /// Mails a single-use reset link when `email` belongs to an account. Only the email's form
    /// is checked before answering; the look-up, the token and the mail happen after the answer,
    /// so neither the answer nor its timing reveals whether the email has an account.
    pub fn request_password_reset(&self, db: &Db, email: &str) -> AppResult<()> {
        let email = Email::parse(email).map_err(AppError::rejected)?;
        let (db, ttl, reset_url) = (db.detached(), self.reset_ttl, self.reset_url.clone());
        let outbox = self.outbox.clone();
        self.outbox.background().spawn(async move {
            let token = SecretToken::generate(RESET_TOKEN_PREFIX);
            let token_hash = token.hash();
            let account = db
                .run(move |conn| {
                    write_transaction(conn, |conn| {
                        let Some(account) = user::by_email(conn, email.as_str())? else {
                            return Ok(None);
                        };
                        let now = now();
                        password_reset::insert(conn, account.id, &token_hash, now, now + ttl)?;
                        Ok(Some(account))
                    })
                })
                .await;
            let account = match account {
                Ok(Some(account)) => account,
                Ok(None) => {
                    return tracing::info!("password reset requested for an unknown email");
                }
                Err(error) => {
                    return tracing::error!(error = %error.detail(), "password reset failed");
                }
            };
            let mail = OutgoingMail {
                to: account.email.clone(),
                subject: "Reset your password".to_owned(),
                body: format!(
                    "Someone asked to reset the password of your account.\n\n\
                     To choose a new password, open this link within {} minutes:\n{}{}\n\n\
                     Your reset code: {}\n\n\
                     If it was not you, ignore this message; your password stays as it is.\n",
                    ttl.num_minutes(),
                    reset_url,
                    token.expose(),
                    token.expose(),
                ),
            };
            outbox.send_later(mail, "password reset", Some(account.id.0));
        });
        Ok(())
    }

    /// Verifies the account's email with the token mailed to it, and gives the account every
    /// guest order placed with that email. The account, and how many orders it was given.
    pub async fn verify_email(&self, db: &Db, token: &str) -> AppResult<(User, usize)> {
        let invalid = || {
            rejected(
                &["token"],
                RejectionCode::InvalidToken,
                "this verification link is unknown, used or expired",
            )
        };
        if token.len() > 200 {
            return Err(invalid());
        }
        let token_hash = hash_token(token);
        let currency = db.currency();
        let (user, adopted) = db
            .run(move |conn| {
                recorded_transaction(conn, currency, |conn, changes| {
                    let now = now();
                    let user_id =
                        email_verification::consume(conn, &token_hash, now)?.ok_or_else(invalid)?;
                    user::mark_email_verified(conn, user_id, now)?;
                    changes.touch(Tracked::Users, user_id);
                    let user = user::by_ids(conn, &[user_id])?
                        .pop()
                        .ok_or_else(|| AppError::NotFound("account not found".into()))?;
                    let adopted = order::adopt_guest_orders(conn, &user.email, user.id, now)?;
                    for order_id in &adopted {
                        changes.touch(Tracked::Orders, *order_id);
                    }
                    Ok((user, adopted.len()))
                })
            })
            .await?;
        tracing::info!(account = user.id.0, adopted, "email verified");
        Ok((user, adopted))
    }

    /// Mails the caller a new verification link, unless their email is verified already.
    pub async fn request_email_verification(
        &self,
        db: &Db,
        caller: AccountPrincipal,
    ) -> AppResult<User> {
        let verification = SecretToken::generate(VERIFICATION_TOKEN_PREFIX);
        let verification_hash = verification.hash();
        let id = caller.account_id;
        let (user, fresh) = db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let user = user::by_ids(conn, &[id])?
                        .pop()
                        .ok_or_else(|| AppError::NotFound("account not found".into()))?;
                    if user.email_verified_at.is_some() {
                        return Ok((user, false));
                    }
                    let now = now();
                    email_verification::insert(
                        conn,
                        id,
                        &verification_hash,
                        now,
                        now + VERIFICATION_TTL,
                    )?;
                    Ok((user, true))
                })
            })
            .await?;
        if fresh {
            self.send_verification(&user, &verification);
        }
        Ok(user)
    }

    fn send_verification(&self, user: &User, token: &SecretToken) {
        let mail = OutgoingMail {
            to: user.email.clone(),
            subject: "Confirm your email".to_owned(),
            body: format!(
                "Confirm that this address is yours by opening this link within {} hours:\n\
                 {}{}\n\n\
                 Your confirmation code: {}\n\n\
                 Orders placed as a guest with this address will then show in your account.\n",
                VERIFICATION_TTL.num_hours(),
                self.verification_url,
                token.expose(),
                token.expose(),
            ),
        };
        self.outbox
            .send_later(mail, "email verification", Some(user.id.0));
    }

    /// Sets a new password with a reset token: the token is used up, every session of the
    /// account ends, and other outstanding tokens stop working.
    pub async fn reset_password(&self, db: &Db, token: &str, new: &str) -> AppResult<()> {
        let new = Password::parse(new, "newPassword").map_err(AppError::rejected)?;
        let invalid = || {
            rejected(
                &["token"],
                RejectionCode::InvalidToken,
                "the reset token is invalid, used or expired",
            )
        };
        if token.len() > 200 {
            return Err(invalid());
        }
        let token_hash = hash_token(token);
        // The cheap check first: a wrong token costs no bcrypt. The token is used up below, in
        // the transaction that sets the password.
        let lookup = token_hash.clone();
        let usable = db
            .run(move |conn| Ok(password_reset::is_usable(conn, &lookup, now())?))
            .await?;
        if !usable {
            return Err(invalid());
        }
        let hash = self.hasher.hash(new).await?;
        let currency = db.currency();
        let account = db
            .run(move |conn| {
                let account = recorded_transaction(conn, currency, |conn, changes| {
                    let now = now();
                    let Some(user_id) = password_reset::consume(conn, &token_hash, now)? else {
                        return Err(invalid());
                    };
                    user::set_password_hash(conn, user_id, &hash, now)?;
                    changes.touch(Tracked::Users, user_id);
                    session::revoke_all(conn, user_id, None, now)?;
                    password_reset::invalidate_all(conn, user_id, now)?;
                    Ok(user_id)
                })?;
                Ok(account)
            })
            .await?;
        tracing::info!(account = account.0, "password reset; every session ended");
        Ok(())
    }

    /// Changes the caller's names.
    pub async fn update_profile(
        &self,
        db: &Db,
        caller: AccountPrincipal,
        first_name: Option<&str>,
        last_name: Option<&str>,
    ) -> AppResult<User> {
        let mut problems = Vec::new();
        let mut check = |raw: Option<&str>, field| {
            raw.map(|raw| parse_text(raw, field, NAME_MAX_CHARS, false))
                .transpose()
                .map_err(|r| problems.push(r))
                .ok()
                .flatten()
        };
        let first_name = check(first_name, "firstName");
        let last_name = check(last_name, "lastName");
        if !problems.is_empty() {
            return Err(AppError::Rejected(problems));
        }
        let id = caller.account_id;
        let currency = db.currency();
        db.run(move |conn| {
            recorded_transaction(conn, currency, |conn, changes| {
                let mut current = user::by_ids(conn, &[id])?;
                let current = current
                    .pop()
                    .ok_or_else(|| AppError::NotFound("account not found".into()))?;
                let first_name = first_name.unwrap_or(current.first_name);
                let last_name = last_name.unwrap_or(current.last_name);
                let email = Email::parse(&current.email).map_err(AppError::rejected)?;
                let search_text = account_search_text(&email, &first_name, &last_name);
                changes.touch(Tracked::Users, id);
                Ok(user::update_profile(
                    conn,
                    id,
                    &ProfileChanges {
                        first_name: &first_name,
                        last_name: &last_name,
                        search_text: &search_text,
                        updated_at: now(),
                    },
                )?)
            })
        })
        .await
    }

    /// Gives an account a role. The last administrator cannot be demoted.
    pub async fn set_role(&self, db: &Db, account: AccountId, role: Role) -> AppResult<User> {
        let actor = db.actor();
        let currency = db.currency();
        let user = db
            .run(move |conn| {
                let user = recorded_transaction(conn, currency, |conn, changes| {
                    // The administrators' rows first: two admins demoting each other at once are
                    // serialised here, and the second sees the first's change.
                    let admins = user::lock_with_role(conn, Role::Admin)?;
                    let current = user::by_ids(conn, &[account])?.pop().ok_or_else(|| {
                        rejected(&["accountId"], RejectionCode::NotFound, "no such account")
                    })?;
                    let demoting_admin = current.role == Role::Admin && role != Role::Admin;
                    if demoting_admin && admins.iter().all(|id| *id == account) {
                        return Err(rejected(
                            &["role"],
                            RejectionCode::LastAdmin,
                            "the shop needs at least one administrator",
                        ));
                    }
                    let details = json!({ "role": [current.role, role] });
                    audit::record(
                        conn,
                        actor,
                        "account.role",
                        Subject::Account(account.0),
                        details,
                    )?;
                    changes.touch(Tracked::Users, account.0);
                    Ok(user::set_role(conn, account, role, now())?)
                })?;
                Ok(user)
            })
            .await?;
        tracing::info!(account = user.id.0, role = %role, "role changed");
        Ok(user)
    }

    /// One page of accounts in `query.sort` order.
    pub async fn customers(
        &self,
        db: &Db,
        query: CustomerQuery,
        page: PageRequest<RowKey>,
    ) -> AppResult<Page<User>> {
        let (window, updated_since) = RowWindow::checked(query.sort, &page, query.updated_since)
            .map_err(AppError::BadUserInput)?;
        let filter = UserFilter {
            search_pattern: searched(query.search.as_deref())?,
            role: query.role,
            updated_since,
            metadata: query.metadata,
        };
        let rows = db
            .run(move |conn| Ok(user::page(conn, &filter, &window)?))
            .await?;
        Ok(page.into_page(rows))
    }
}

/// Creates an administrator, or makes an existing account one with this password (ending its
/// sessions). For `bazaar create-admin`; runs on the calling thread.
pub fn create_admin_blocking(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    bcrypt_cost: u32,
) -> anyhow::Result<(User, bool)> {
    let email = Email::parse(email).map_err(|r| anyhow::anyhow!("email: {}", r.message))?;
    let password =
        Password::parse(password, "password").map_err(|r| anyhow::anyhow!("{}", r.message))?;
    let hash = bcrypt::hash(password.expose(), bcrypt_cost)?;
    // No event is raised (only rows touched), so the store currency does not matter.
    let currency = Currency::default();
    let result = recorded_transaction(conn, currency, |conn, changes| -> AppResult<(User, bool)> {
        let now = now();
        if let Some(existing) = user::by_email(conn, email.as_str())? {
            user::set_password_hash(conn, existing.id, &hash, now)?;
            session::revoke_all(conn, existing.id, None, now)?;
            let user = user::set_role(conn, existing.id, Role::Admin, now)?;
            changes.touch(Tracked::Users, user.id);
            return Ok((user, false));
        }
        let search_text = account_search_text(&email, "", "");
        let user = user::insert(
            conn,
            &NewUser {
                email: email.as_str(),
                password_hash: &hash,
                first_name: "",
                last_name: "",
                role: Role::Admin,
                search_text: &search_text,
                created_at: now,
                updated_at: now,
            },
        )?;
        changes.touch(Tracked::Users, user.id);
        Ok((user, true))
    });
    result.map_err(anyhow::Error::from)
}
