//! The rule every string a client sends obeys, checked in one place before anything runs (in
//! the document's literals once, when it is parsed, their length already on the raw text by
//! `limits::precheck`; in the variables of every request): at most
//! [`MAX_STRING_BYTES`] bytes, and no control characters but tab, line feed and carriage return.
//! PostgreSQL refuses NUL in text, and nothing Bazaar stores wants the others. Each field keeps
//! its own, smaller limits (names, codes, search phrases), checked where its value is parsed.
//! The strings inside a decoded cursor obey the same rule ([`check_json`]).

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, Value, Variables};

use crate::error::codes;

/// Longest string accepted anywhere, in bytes.
pub const MAX_STRING_BYTES: usize = 65_536;

const TOO_LONG: &str = "a string value is longer than 65,536 bytes";

/// Why a string breaks the rule.
pub fn fault(text: &str) -> Option<&'static str> {
    if text.len() > MAX_STRING_BYTES {
        Some(TOO_LONG)
    } else if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some("a string value holds a control character (such as NUL)")
    } else {
        None
    }
}

fn refusal(message: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", codes::BAD_USER_INPUT);
    error
}

/// The refusal of a string longer than [`MAX_STRING_BYTES`], for the check of the raw query text
/// before it is parsed (`limits::precheck`).
pub fn too_long() -> ServerError {
    refusal(TOO_LONG)
}

fn check_value(value: &Value) -> Result<(), ServerError> {
    match value {
        Value::String(text) => fault(text).map_or(Ok(()), |why| Err(refusal(why))),
        Value::List(items) => items.iter().try_for_each(check_value),
        Value::Object(fields) => fields.values().try_for_each(check_value),
        _ => Ok(()),
    }
}

/// Checks every string of a JSON value (a decoded cursor, say).
pub fn check_json(value: &serde_json::Value) -> Result<(), &'static str> {
    use serde_json::Value as Json;
    match value {
        Json::String(text) => fault(text).map_or(Ok(()), Err),
        Json::Array(items) => items.iter().try_for_each(check_json),
        Json::Object(fields) => fields.values().try_for_each(check_json),
        _ => Ok(()),
    }
}

/// Checks every string of a request's variables.
pub fn check_variables(variables: &Variables) -> Result<(), ServerError> {
    variables.values().try_for_each(check_value)
}

/// Checks every string literal of a document: field and directive arguments, in operations and
/// fragments, and variables' defaults.
pub fn check_literals(document: &ExecutableDocument) -> Result<(), ServerError> {
    for (_, operation) in document.operations.iter() {
        for definition in &operation.node.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                check_value(&default.node)?;
            }
        }
        check_selection_set(&operation.node.selection_set.node)?;
    }
    for fragment in document.fragments.values() {
        check_selection_set(&fragment.node.selection_set.node)?;
    }
    Ok(())
}

fn check_selection_set(set: &SelectionSet) -> Result<(), ServerError> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                for (_, argument) in &field.node.arguments {
                    check_literal(&argument.node)?;
                }
                for directive in &field.node.directives {
                    for (_, argument) in &directive.node.arguments {
                        check_literal(&argument.node)?;
                    }
                }
                check_selection_set(&field.node.selection_set.node)?;
            }
            Selection::InlineFragment(inline) => {
                check_selection_set(&inline.node.selection_set.node)?;
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

fn check_literal(value: &async_graphql_value::Value) -> Result<(), ServerError> {
    use async_graphql_value::Value as Literal;
    match value {
        Literal::String(text) => fault(text).map_or(Ok(()), |why| Err(refusal(why))),
        Literal::List(items) => items.iter().try_for_each(check_literal),
        Literal::Object(fields) => fields.values().try_for_each(check_literal),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_huge_strings_are_refused_wherever_they_stand() {
        let parse = |q: &str| async_graphql::parser::parse_query(q).unwrap();
        assert!(check_literals(&parse("{ a(x: \"fine\\ttext\") }")).is_ok());
        assert!(check_literals(&parse("{ a(x: \"bad\\u0000\") }")).is_err());
        assert!(check_literals(&parse("{ a { b(x: [{ y: \"\\u0001\" }]) } }")).is_err());
        assert!(check_literals(&parse("query($v: String = \"\\u0000\") { a }")).is_err());
        assert!(check_literals(&parse("{ ...F } fragment F on Q { a(x: \"\\u0000\") }")).is_err());
        let huge = format!("{{ a(x: \"{}\") }}", "x".repeat(MAX_STRING_BYTES + 1));
        assert!(check_literals(&parse(&huge)).is_err());
        let variables =
            Variables::from_json(serde_json::json!({ "v": { "w": ["ok", "no\u{0}"] } }));
        assert!(check_variables(&variables).is_err());
        let fine = Variables::from_json(serde_json::json!({ "v": "line\nbreak" }));
        assert!(check_variables(&fine).is_ok());
        assert!(check_json(&serde_json::json!({ "Name": ["ok", 1] })).is_ok());
        assert!(check_json(&serde_json::json!({ "Name": ["bad\u{0}", 1] })).is_err());
    }
}
