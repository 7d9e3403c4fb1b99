//! Operation-level limits checked before execution. For now: sensitive mutations (sign-in,
//! sign-up, password changes and resets) appear at most once per operation, so aliases cannot
//! multiply attempts in one request.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Variables};
use std::collections::HashMap;

use crate::error::codes;

/// Mutation fields allowed once per operation.
pub const ONCE_PER_OPERATION: [&str; 5] = [
    "login",
    "accountRegister",
    "passwordChange",
    "passwordReset",
    "passwordResetRequest",
];

/// Fragment nesting followed when counting (deeper documents fail validation anyway).
const MAX_FRAGMENT_DEPTH: usize = 16;

/// Refuses operations that select a [`ONCE_PER_OPERATION`] field more than once.
pub struct OncePerOperation;

impl ExtensionFactory for OncePerOperation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OncePerOperationExtension)
    }
}

struct OncePerOperationExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for OncePerOperationExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check(&document)?;
        Ok(document)
    }
}

/// Checks every mutation operation of `document`.
pub fn check(document: &ExecutableDocument) -> ServerResult<()> {
    for (_, operation) in document.operations.iter() {
        if operation.node.ty != OperationType::Mutation {
            continue;
        }
        for field in ONCE_PER_OPERATION {
            let count = count_field(
                &operation.node.selection_set.node,
                field,
                &document.fragments,
                0,
            );
            if count > 1 {
                let mut error = ServerError::new(
                    format!("`{field}` may appear at most once per operation (found {count})"),
                    Some(operation.pos),
                );
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("code", codes::BAD_USER_INPUT);
                return Err(error);
            }
        }
    }
    Ok(())
}

fn count_field(
    selection_set: &SelectionSet,
    name: &str,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    depth: usize,
) -> usize {
    if depth > MAX_FRAGMENT_DEPTH {
        return 0;
    }
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => usize::from(field.node.name.node.as_str() == name),
            Selection::InlineFragment(inline) => {
                count_field(&inline.node.selection_set.node, name, fragments, depth + 1)
            }
            Selection::FragmentSpread(spread) => fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |fragment| {
                    count_field(
                        &fragment.node.selection_set.node,
                        name,
                        fragments,
                        depth + 1,
                    )
                }),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(query: &str) -> ServerResult<()> {
        check(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn one_login_passes_two_do_not() {
        assert!(
            checked("mutation { login(email: \"a\", password: \"b\") { __typename } }").is_ok()
        );
        assert!(
            checked(
                "mutation { a: login(email: \"a\", password: \"b\") { __typename } \
                 b: login(email: \"a\", password: \"c\") { __typename } }"
            )
            .is_err()
        );
    }

    #[test]
    fn fragments_and_inline_fragments_are_counted() {
        assert!(
            checked(
                "mutation { ...F ... on Mutation { login(email: \"a\", password: \"c\") { __typename } } } \
                 fragment F on Mutation { login(email: \"a\", password: \"b\") { __typename } }"
            )
            .is_err()
        );
        // Queries may mention a field named `login` as often as they like.
        assert!(checked("{ a: login b: login }").is_ok());
    }
}
