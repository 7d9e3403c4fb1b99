//! Account rules: roles, the caller as a [`Principal`], and the checked values an account is made
//! of (email, password, names).

use std::fmt;

use crate::domain::catalog::CatalogVisibility;
use crate::domain::ids::AccountId;
use crate::domain::partners::{PartnerPrincipal, Scope};
use crate::domain::rejection::{Rejection, RejectionCode};

/// Shortest password accepted, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest password accepted, in bytes: bcrypt reads no further, and we never truncate silently.
pub const PASSWORD_MAX_BYTES: usize = 72;
/// Longest email address (RFC 5321 path limit).
pub const EMAIL_MAX_BYTES: usize = 254;
/// Longest first or last name, in characters.
pub const NAME_MAX_CHARS: usize = 100;

/// What an account may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Shops: own profile, addresses, carts and orders.
    Customer,
    /// Runs the shop: catalog, inventory, customers.
    Staff,
    /// Everything staff may, plus changing roles.
    Admin,
}

crate::domain::text_enum!(Role {
    Customer => "CUSTOMER",
    Staff => "STAFF",
    Admin => "ADMIN",
});

/// A signed-in account, as its session proved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountPrincipal {
    /// The account.
    pub account_id: AccountId,
    /// Its role at the time of the request.
    pub role: Role,
    /// The session the request came with.
    pub session_id: i64,
}

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Principal {
    /// No credentials.
    #[default]
    Anonymous,
    /// A signed-in account.
    Account(AccountPrincipal),
    /// A partner app, by one of its API keys.
    Partner(PartnerPrincipal),
}

impl Principal {
    /// The signed-in account, if any.
    pub fn account(&self) -> Option<&AccountPrincipal> {
        match self {
            Self::Account(account) => Some(account),
            Self::Anonymous | Self::Partner(_) => None,
        }
    }

    /// Whether the caller is a partner whose key holds `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        matches!(self, Self::Partner(partner) if partner.scopes.has(scope))
    }

    /// Whether the caller is staff, or a partner whose key holds `scope`: who may do the staff
    /// work that `scope` names.
    pub fn is_staff_or(&self, scope: Scope) -> bool {
        self.has_role(Role::Staff) || self.has_scope(scope)
    }

    /// The signed-in account's id, if any.
    pub fn account_id(&self) -> Option<AccountId> {
        self.account().map(|account| account.account_id)
    }

    /// Whether the caller holds `role` or a higher one.
    pub fn has_role(&self, role: Role) -> bool {
        self.account().is_some_and(|account| account.role >= role)
    }

    /// Whether the caller may read and change what belongs to `owner`: the owner and staff may.
    pub fn may_access_account(&self, owner: AccountId) -> bool {
        self.account_id() == Some(owner) || self.has_role(Role::Staff)
    }

    /// Whether the caller may see customers' personal data (emails, addresses) on what they may
    /// read: everyone but a partner without `read_customers`.
    pub fn sees_personal_data(&self) -> bool {
        match self {
            Self::Partner(partner) => partner.scopes.has(Scope::ReadCustomers),
            Self::Anonymous | Self::Account(_) => true,
        }
    }

    /// Whether the caller sees the references partner systems gave products
    /// (`Product.externalRef`): staff, and partners whose key reads or writes products.
    pub fn sees_external_refs(&self) -> bool {
        self.is_staff_or(Scope::ReadProducts) || self.has_scope(Scope::WriteProducts)
    }

    /// Which products the caller sees: staff and partners with `read_products` see every
    /// status.
    pub fn catalog_visibility(&self) -> CatalogVisibility {
        if self.is_staff_or(Scope::ReadProducts) {
            CatalogVisibility::Everything
        } else {
            CatalogVisibility::Storefront
        }
    }
}

/// A syntactically valid, normalised email address: trimmed and lower-cased, so that one mailbox
/// is one account however it is typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Checks and normalises `raw`.
    pub fn parse(raw: &str) -> Result<Self, Rejection> {
        let invalid = |message: &str| Rejection::new(&["email"], RejectionCode::Invalid, message);
        let email = raw.trim().to_lowercase();
        if email.len() > EMAIL_MAX_BYTES {
            return Err(Rejection::new(
                &["email"],
                RejectionCode::TooLong,
                format!("an email address has at most {EMAIL_MAX_BYTES} characters"),
            ));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(invalid("an email address looks like name@example.com"));
        };
        let domain_ok = domain.split('.').count() >= 2
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"\"(),:;<>[\\]".contains(c));
        if !domain_ok || !local_ok {
            return Err(invalid("an email address looks like name@example.com"));
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password that meets the length rules. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks `raw` against the length rules; `field` names the argument in the rejection.
    pub fn parse(raw: &str, field: &str) -> Result<Self, Rejection> {
        if raw.chars().count() < PASSWORD_MIN_CHARS {
            return Err(Rejection::new(
                &[field],
                RejectionCode::TooShort,
                format!("a password has at least {PASSWORD_MIN_CHARS} characters"),
            ));
        }
        if raw.len() > PASSWORD_MAX_BYTES {
            return Err(Rejection::new(
                &[field],
                RejectionCode::TooLong,
                format!(
                    "a password has at most {PASSWORD_MAX_BYTES} bytes (UTF-8); longer ones would be cut short"
                ),
            ));
        }
        if raw.contains('\0') {
            return Err(Rejection::new(
                &[field],
                RejectionCode::Invalid,
                "a password cannot contain NUL characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Trims `raw` and checks it fits a name of at most `max` characters (empty allowed unless
/// `required`).
pub fn parse_text(raw: &str, field: &str, max: usize, required: bool) -> Result<String, Rejection> {
    let value = raw.trim();
    if required && value.is_empty() {
        return Err(Rejection::new(
            &[field],
            RejectionCode::TooShort,
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(Rejection::new(
            &[field],
            RejectionCode::TooLong,
            format!("{field} has at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Rejection::new(
            &[field],
            RejectionCode::Invalid,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(value.to_owned())
}

/// The lower-cased text the staff customer search matches.
pub fn account_search_text(email: &Email, first_name: &str, last_name: &str) -> String {
    format!("{} {} {}", email.as_str(), first_name, last_name).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Ada.Lovelace@Example.COM ")
                .unwrap()
                .as_str(),
            "ada.lovelace@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada lovelace@example.com",
            "ada@exa mple.com",
            "ada@-example.com",
            "ada@example..com",
            "a@b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            Email::parse(&long).unwrap_err().code,
            RejectionCode::TooLong
        );
    }

    #[test]
    fn passwords_are_never_truncated_or_shown() {
        assert_eq!(
            Password::parse("short", "password").unwrap_err().code,
            RejectionCode::TooShort
        );
        assert!(Password::parse(&"x".repeat(72), "password").is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(73), "password")
                .unwrap_err()
                .code,
            RejectionCode::TooLong
        );
        // 8 characters but 24 bytes: the character count decides the minimum.
        assert!(Password::parse("ééééééééé", "password").is_ok());
        // 36 two-byte characters = 72 bytes fits; 37 does not.
        assert!(Password::parse(&"é".repeat(36), "password").is_ok());
        assert!(Password::parse(&"é".repeat(37), "password").is_err());
        let password = Password::parse("correct horse", "password").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn roles_are_ordered_and_principals_scoped() {
        let customer = Principal::Account(AccountPrincipal {
            account_id: AccountId(1),
            role: Role::Customer,
            session_id: 1,
        });
        let staff = Principal::Account(AccountPrincipal {
            account_id: AccountId(2),
            role: Role::Staff,
            session_id: 2,
        });
        assert!(customer.may_access_account(AccountId(1)));
        assert!(!customer.may_access_account(AccountId(2)));
        assert!(staff.may_access_account(AccountId(1)));
        assert!(!Principal::Anonymous.may_access_account(AccountId(1)));
        assert!(staff.has_role(Role::Customer) && !staff.has_role(Role::Admin));
        assert_eq!(customer.catalog_visibility(), CatalogVisibility::Storefront);
        assert_eq!(staff.catalog_visibility(), CatalogVisibility::Everything);
    }
}
