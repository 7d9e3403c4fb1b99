//! Parsed and checked documents, cached by query text: clients send the same few queries again
//! and again, and parsing is a noticeable share of a small request's work.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::ServerError;
use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

use super::limits::{self, QueryLimits};

/// Documents kept.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(512).unwrap();
/// Longer query texts are parsed each time rather than kept (the cache stays small).
const LONGEST_KEPT: usize = 8 * 1024;

/// The most recently used documents that passed [`limits::check_document`].
pub struct DocumentCache {
    documents: Mutex<LruCache<String, Arc<ExecutableDocument>>>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self {
            documents: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl DocumentCache {
    /// The document `query` parses to, checked against `limits` (before parsing by
    /// [`limits::precheck`], after by [`limits::check_document`]); refused texts are not kept,
    /// so a kept one is neither scanned nor parsed again.
    pub fn parse(
        &self,
        query: &str,
        limits: &QueryLimits,
    ) -> Result<Arc<ExecutableDocument>, ServerError> {
        if let Some(document) = self.lock().get(query) {
            return Ok(document.clone());
        }
        limits::precheck(query, limits)?;
        let document = async_graphql::parser::parse_query(query).map_err(ServerError::from)?;
        limits::check_document(&document, limits)?;
        crate::graphql::input_rules::check_literals(&document)?;
        let document = Arc::new(document);
        if query.len() <= LONGEST_KEPT {
            self.lock().put(query.to_owned(), document.clone());
        }
        Ok(document)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Arc<ExecutableDocument>>> {
        // The cache holds no invariant a panic could break: use it even if poisoned.
        self.documents.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::limits::TEST_LIMITS as LIMITS;

    #[test]
    fn the_same_text_gives_the_same_document_and_refusals_are_not_kept() {
        let cache = DocumentCache::default();
        let first = cache.parse("{ categories { name } }", &LIMITS).unwrap();
        let again = cache.parse("{ categories { name } }", &LIMITS).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let aliased = "{ a: __typename b: __typename c: __typename d: __typename e: __typename f: __typename }";
        assert!(cache.parse(aliased, &LIMITS).is_err());
        assert!(cache.parse(aliased, &LIMITS).is_err());
        assert!(cache.parse("{ broken", &LIMITS).is_err());
    }
}
