//! `MetadataFilter`: the metadata conditions of the product, order and customer lists.

use async_graphql::InputObject;

use crate::domain::metadata::{MAX_METADATA_FILTERS, MetadataCondition, check_key, check_value};
use crate::error::AppError;

/// A metadata condition: the object has an entry with this key (and this value, when given).
#[derive(Debug, InputObject)]
pub struct MetadataFilter {
    /// The key, e.g. `erp.id`.
    pub key: String,
    /// The value it must have; any value when omitted.
    pub value: Option<String>,
    /// Match a private entry instead of a public one (staff, and partner keys with the read
    /// scope of the list's objects).
    #[graphql(default = false)]
    pub private: bool,
}

/// The checked conditions of `filters` (at most 5, all to hold); `FORBIDDEN` for a private one
/// unless `sees_private`.
pub fn conditions(
    filters: Option<Vec<MetadataFilter>>,
    sees_private: bool,
) -> Result<Vec<MetadataCondition>, AppError> {
    let filters = filters.unwrap_or_default();
    if filters.len() > MAX_METADATA_FILTERS {
        return Err(AppError::bad_input(format!(
            "metadata: at most {MAX_METADATA_FILTERS} conditions"
        )));
    }
    filters
        .into_iter()
        .map(|filter| {
            check_key(&filter.key).map_err(|rejection| {
                AppError::bad_input(format!("metadata: {}", rejection.message))
            })?;
            if let Some(value) = &filter.value {
                check_value(value).map_err(|rejection| {
                    AppError::bad_input(format!("metadata: {}", rejection.message))
                })?;
            }
            if filter.private && !sees_private {
                return Err(AppError::Forbidden);
            }
            Ok(MetadataCondition {
                key: filter.key,
                value: filter.value,
                private: filter.private,
            })
        })
        .collect()
}
