//! Inputs of the account mutations and the staff customer search.

use async_graphql::InputObject;
use chrono::{DateTime, Utc};

use crate::domain::address::AddressParts;
use crate::domain::feeds::RowSort;
use crate::error::AppError;
use crate::graphql::inputs::feeds::{CustomerSortBy, since};
use crate::graphql::inputs::metadata::{MetadataFilter, conditions};
use crate::graphql::types::account::Role;
use crate::services::accounts::CustomerQuery;

/// A new customer account.
#[derive(InputObject)]
pub struct AccountRegisterInput {
    /// Sign-in email; stored trimmed and lower-cased, unique.
    pub email: String,
    /// At least 8 characters and at most 72 bytes (UTF-8).
    pub password: String,
    /// Given name.
    #[graphql(default)]
    pub first_name: String,
    /// Family name.
    #[graphql(default)]
    pub last_name: String,
}

/// Changes to the caller's profile; omitted fields stay as they are.
#[derive(InputObject)]
pub struct AccountUpdateInput {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// A postal address.
#[derive(InputObject)]
pub struct AddressInput {
    /// Recipient's given name.
    pub first_name: String,
    /// Recipient's family name.
    pub last_name: String,
    /// Company.
    #[graphql(default)]
    pub company: String,
    /// Street address.
    pub line1: String,
    /// Apartment, suite, floor.
    #[graphql(default)]
    pub line2: String,
    /// City or town.
    pub city: String,
    /// State, province or region.
    #[graphql(default)]
    pub region: String,
    /// Postal or ZIP code.
    #[graphql(default)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `US`.
    pub country_code: String,
    /// Phone number for the carrier.
    #[graphql(default)]
    pub phone: String,
}

impl From<AddressInput> for AddressParts {
    fn from(input: AddressInput) -> Self {
        Self {
            first_name: input.first_name,
            last_name: input.last_name,
            company: input.company,
            line1: input.line1,
            line2: input.line2,
            city: input.city,
            region: input.region,
            postal_code: input.postal_code,
            country_code: input.country_code,
            phone: input.phone,
        }
    }
}

/// Filters of the staff customer list.
#[derive(InputObject, Default)]
pub struct CustomersWhere {
    /// Words matched (case-insensitively) against email, first and last name.
    pub search: Option<String>,
    /// Only accounts with this role.
    pub role: Option<Role>,
    /// Only accounts changed at or after this time (`updatedAt >= updatedSince`; a year from 1
    /// to 9999). For a first sync with `sortBy: {field: UPDATED_AT}`; afterwards continue from
    /// the last cursor.
    pub updated_since: Option<DateTime<Utc>>,
    /// Only accounts with these metadata entries (at most 5 conditions, all to hold; public or
    /// private).
    pub metadata: Option<Vec<MetadataFilter>>,
}

impl CustomersWhere {
    /// The service query, sorted by `sort_by` (newest first when not given).
    pub fn into_query(self, sort_by: Option<CustomerSortBy>) -> Result<CustomerQuery, AppError> {
        Ok(CustomerQuery {
            search: self.search,
            role: self.role.map(Into::into),
            updated_since: since(self.updated_since),
            // Whoever may list accounts reads their private metadata.
            metadata: conditions(self.metadata, true)?,
            sort: sort_by.map_or(RowSort::NEWEST_FIRST, RowSort::from),
        })
    }
}
