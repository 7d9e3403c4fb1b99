//! Operation limits, checked before anything runs: a lexical pre-check of the query text (tokens,
//! nesting, string literals over the longest string any input may be) that keeps hostile
//! documents away from the recursive parser; after parsing, aliases,
//! directives, fields with fragments expanded (fragment bombs, cycles), sensitive mutations at
//! most once per operation, no mutation over GET; then depth and cost (see `query_cost`), and
//! the cost charged to the caller's bucket.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, OperationType,
    Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult};

use crate::domain::cost::Refused;
use crate::graphql::input_rules;
use crate::graphql::query_cost::{Measure, UNPRICEABLE};
use crate::services::cost::CostLimiter;

/// `extensions.code` of a document over a limit.
pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
/// `extensions.code` of a query refused because the caller's cost bucket is short.
pub const THROTTLED: &str = "THROTTLED";
/// `extensions.code` of a mutation sent with GET (answered with HTTP 405).
pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";

/// Deepest lexical nesting of `{`, `[` and `(` accepted before parsing.
pub const MAX_NESTING: usize = 64;

/// Mutation fields allowed once per operation, so aliases cannot multiply attempts.
pub const ONCE_PER_OPERATION: [&str; 10] = [
    "login",
    "cartDiscountCodeApply",
    "orderPay",
    "accountRegister",
    "accountRegisterConfirm",
    "accountEmailVerify",
    "accountEmailVerificationRequest",
    "passwordChange",
    "passwordReset",
    "passwordResetRequest",
];

/// The configurable limits of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most lexical tokens in the query text.
    pub max_tokens: usize,
    /// Deepest selection nesting.
    pub max_depth: usize,
    /// Most field selections, fragments expanded.
    pub max_fields: usize,
    /// Most aliases.
    pub max_aliases: usize,
    /// Most directives.
    pub max_directives: usize,
}

fn too_complex(message: String) -> ServerError {
    with_code(ServerError::new(message, None), QUERY_TOO_COMPLEX)
}

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}

/// Counts tokens, the deepest nesting, selection sets and aliases of the query text without
/// building anything, so that a document of 10,000 nested selections or 500 aliases is refused
/// in linear time and constant stack, and a flood of them costs a scan rather than a parse.
///
/// Outside parentheses the text holds only selection sets: there every `{` opens one and every
/// `:` follows an alias (arguments, variable definitions and their values are all inside
/// parentheses). A text that nests selection sets deeper, or holds more aliases, than the
/// parsed document would be allowed is refused here; counted in the text, fragments are not
/// expanded, so these counts never exceed what [`check_document`] and the depth check count.
pub fn precheck(query: &str, limits: &QueryLimits) -> Result<(), ServerError> {
    let bytes = query.as_bytes();
    let (mut tokens, mut depth, mut deepest) = (0_usize, 0_usize, 0_usize);
    let (mut in_parentheses, mut selection_depth, mut aliases) = (0_usize, 0_usize, 0_usize);
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            0xEF if bytes[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => i += 3,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' => {
                tokens += 1;
                let (end, at_least) = skip_string(bytes, i);
                // The rule every string obeys, ahead of the parser (slow on huge literals).
                if at_least > input_rules::MAX_STRING_BYTES {
                    return Err(input_rules::too_long());
                }
                i = end;
            }
            b'{' | b'[' | b'(' => {
                tokens += 1;
                depth += 1;
                deepest = deepest.max(depth);
                match byte {
                    b'(' => in_parentheses += 1,
                    b'{' if in_parentheses == 0 => selection_depth += 1,
                    _ => {}
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                tokens += 1;
                depth = depth.saturating_sub(1);
                match byte {
                    b')' => in_parentheses = in_parentheses.saturating_sub(1),
                    b'}' if in_parentheses == 0 => {
                        selection_depth = selection_depth.saturating_sub(1);
                    }
                    _ => {}
                }
                i += 1;
            }
            b':' => {
                tokens += 1;
                if in_parentheses == 0 {
                    aliases += 1;
                }
                i += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                tokens += 1;
                i += 3;
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'+' => {
                tokens += 1;
                i += 1;
                while i < bytes.len()
                    && matches!(bytes[i], b'_' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'+' | b'-')
                {
                    i += 1;
                }
            }
            _ => {
                tokens += 1;
                i += 1;
            }
        }
        if tokens > limits.max_tokens {
            return Err(too_complex(format!(
                "the document has more than {} tokens",
                limits.max_tokens
            )));
        }
        // The operation's own braces are one level more than its fields' depth, at most.
        if selection_depth > limits.max_depth + 1 {
            return Err(too_complex(format!(
                "the query nests more than {} levels deep",
                limits.max_depth
            )));
        }
        if aliases > limits.max_aliases {
            return Err(too_complex(format!(
                "the document has more than {} aliases",
                limits.max_aliases
            )));
        }
        if deepest > MAX_NESTING {
            return Err(too_complex(format!(
                "the document nests deeper than {MAX_NESTING} levels"
            )));
        }
    }
    Ok(())
}

/// The index just past the string starting at `start` (a `"…"` or a `"""…"""` block string),
/// and the fewest bytes its value can have (each escape counted as one byte; 0 for a block
/// string, whose common indentation is removed).
fn skip_string(bytes: &[u8], start: usize) -> (usize, usize) {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut i = start + 3;
        while i < bytes.len() {
            if bytes[i..].starts_with(b"\\\"\"\"") {
                i += 4;
            } else if bytes[i..].starts_with(b"\"\"\"") {
                return (i + 3, 0);
            } else {
                i += 1;
            }
        }
        return (bytes.len(), 0);
    }
    let (mut i, mut at_least) = (start + 1, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'u') => i += 6,
            b'\\' => i += 2,
            b'"' | b'\n' | b'\r' => return (i + 1, at_least),
            _ => i += 1,
        }
        at_least += 1;
    }
    (bytes.len(), at_least)
}

/// Refuses an operation nesting deeper than allowed; charges its cost to the caller's bucket,
/// or refuses it (`QUERY_TOO_COMPLEX` above the bucket's size, `THROTTLED` with `retryAfter`
/// when the bucket holds too little now). What was charged, in points.
pub async fn charge(
    measure: Measure,
    limits: &QueryLimits,
    costs: &CostLimiter,
    key: &str,
) -> ServerResult<f64> {
    if measure.depth > limits.max_depth {
        return Err(too_complex(format!(
            "the query nests {} levels deep; at most {} are allowed",
            measure.depth, limits.max_depth
        )));
    }
    let cost = measure.cost as f64;
    match costs.charge(key, cost).await {
        Ok(()) => Ok(cost),
        Err(Refused::TooExpensive) if measure.cost == UNPRICEABLE => Err(too_complex(
            "the query asks for a list whose length has no known bound, so it cannot be priced"
                .to_owned(),
        )),
        Err(Refused::TooExpensive) => Err(too_complex(format!(
            "the query costs {cost} points; at most {} are allowed",
            costs.capacity()
        ))),
        Err(Refused::Throttled { retry_after }) => {
            let retry_after = CostLimiter::retry_after_secs(retry_after);
            let mut error = with_code(
                ServerError::new(
                    format!(
                        "the query costs {cost} points and your bucket holds fewer; \
                         retry in {retry_after} s"
                    ),
                    None,
                ),
                THROTTLED,
            );
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("retryAfter", retry_after);
            Err(error)
        }
    }
}

/// Counts aliases, directives and (expanded) fields, refuses fragment cycles, and checks the
/// once-per-operation mutations.
pub fn check_document(document: &ExecutableDocument, limits: &QueryLimits) -> ServerResult<()> {
    let mut counter = Counter {
        fragments: &document.fragments,
        expanded: HashMap::new(),
        aliases: 0,
        directives: 0,
    };
    for fragment in document.fragments.values() {
        counter.directives += fragment.node.directives.len();
    }
    let mut fields = 0_usize;
    for (_, operation) in document.operations.iter() {
        counter.directives += operation.node.directives.len();
        let counts = counter.selection_set(&operation.node.selection_set.node, &mut Vec::new())?;
        fields = fields.saturating_add(counts.fields);
        if operation.node.ty == OperationType::Mutation {
            for name in ONCE_PER_OPERATION {
                let count = counts.once_per_operation.get(name).copied().unwrap_or(0);
                if count > 1 {
                    return Err(with_code(
                        ServerError::new(
                            format!(
                                "`{name}` may appear at most once per operation (found {count})"
                            ),
                            Some(operation.pos),
                        ),
                        "BAD_USER_INPUT",
                    ));
                }
            }
        }
    }
    if fields > limits.max_fields {
        return Err(too_complex(format!(
            "the document selects {fields} fields (fragments expanded); at most {} are allowed",
            limits.max_fields
        )));
    }
    if counter.aliases > limits.max_aliases {
        return Err(too_complex(format!(
            "the document has {} aliases; at most {} are allowed",
            counter.aliases, limits.max_aliases
        )));
    }
    if counter.directives > limits.max_directives {
        return Err(too_complex(format!(
            "the document has {} directives; at most {} are allowed",
            counter.directives, limits.max_directives
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
struct Counts {
    fields: usize,
    once_per_operation: HashMap<&'static str, usize>,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.fields = self.fields.saturating_add(other.fields);
        for (name, count) in &other.once_per_operation {
            *self.once_per_operation.entry(name).or_default() += count;
        }
    }
}

struct Counter<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Counts of each fragment expanded, computed once.
    expanded: HashMap<&'a str, Counts>,
    aliases: usize,
    directives: usize,
}

impl<'a> Counter<'a> {
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        path: &mut Vec<&'a str>,
    ) -> ServerResult<Counts> {
        let mut counts = Counts::default();
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    counts.fields = counts.fields.saturating_add(1);
                    self.aliases += usize::from(field.alias.is_some());
                    self.directives += field.directives.len();
                    if let Some(name) = ONCE_PER_OPERATION
                        .iter()
                        .find(|name| **name == field.name.node.as_str())
                    {
                        *counts.once_per_operation.entry(name).or_default() += 1;
                    }
                    let nested = self.selection_set(&field.selection_set.node, path)?;
                    counts.fields = counts.fields.saturating_add(nested.fields);
                }
                Selection::InlineFragment(inline) => {
                    self.directives += inline.node.directives.len();
                    let nested = self.selection_set(&inline.node.selection_set.node, path)?;
                    counts.add(&nested);
                }
                Selection::FragmentSpread(spread) => {
                    self.directives += spread.node.directives.len();
                    let name = spread.node.fragment_name.node.as_str();
                    let nested = self.fragment(name, path)?;
                    counts.add(&nested);
                }
            }
        }
        Ok(counts)
    }

    fn fragment(&mut self, name: &'a str, path: &mut Vec<&'a str>) -> ServerResult<Counts> {
        if let Some(counts) = self.expanded.get(name) {
            return Ok(counts.clone());
        }
        if path.contains(&name) {
            return Err(with_code(
                ServerError::new(format!("fragment `{name}` spreads itself"), None),
                "BAD_USER_INPUT",
            ));
        }
        // Unknown fragments are left to validation, which names them.
        let Some(fragment) = self.fragments.get(name) else {
            return Ok(Counts::default());
        };
        path.push(name);
        let counts = self.selection_set(&fragment.node.selection_set.node, path)?;
        path.pop();
        self.expanded.insert(name, counts.clone());
        Ok(counts)
    }
}

/// Refuses a document whose operation to run is a mutation (for GET requests).
pub fn refuse_mutations(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> ServerResult<()> {
    match selected_operation(document, operation_name) {
        Some(operation) if operation.node.ty != OperationType::Query => Err(with_code(
            ServerError::new("mutations and subscriptions need POST", Some(operation.pos)),
            METHOD_NOT_ALLOWED,
        )),
        _ => Ok(()),
    }
}

/// What the operation to run is (`None` when `operation_name` picks none).
pub fn operation_type(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    selected_operation(document, operation_name).map(|operation| operation.node.ty)
}

/// The operation `operation_name` picks: the named one, or the document's only operation
/// (named or not) when no name is given; `None` when it names none, or names none of several.
/// The one rule the cost, the GET refusal and the execution agree on: a document's only
/// operation runs without `operationName` even when it has a name, so it must be priced and
/// checked as well.
pub fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        // Without a name a multi-operation document fails validation anyway.
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Small limits for unit tests.
#[cfg(test)]
pub(crate) const TEST_LIMITS: QueryLimits = QueryLimits {
    max_tokens: 1000,
    max_depth: 10,
    max_fields: 50,
    max_aliases: 5,
    max_directives: 4,
};

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: QueryLimits = TEST_LIMITS;

    fn checked(query: &str) -> ServerResult<()> {
        precheck(query, &LIMITS)?;
        check_document(&async_graphql::parser::parse_query(query).unwrap(), &LIMITS)
    }

    #[test]
    fn a_literal_over_the_longest_string_is_refused_before_parsing() {
        let max = input_rules::MAX_STRING_BYTES;
        let literal = |body: &str| format!("{{ a(x: \"{body}\") }}");
        assert!(precheck(&literal(&"x".repeat(max)), &LIMITS).is_ok());
        let refused = precheck(&literal(&"x".repeat(max + 1)), &LIMITS).unwrap_err();
        assert_eq!(refused.message, input_rules::too_long().message);
        // Escapes are counted as the one byte they may decode to: no refusal by mistake.
        assert!(precheck(&literal(&"\\u0041".repeat(max)), &LIMITS).is_ok());
        assert!(precheck(&literal(&"\\n".repeat(max)), &LIMITS).is_ok());
        let block = format!("{{ a(x: \"\"\"{}\"\"\") }}", "x".repeat(max + 1));
        assert!(
            precheck(&block, &LIMITS).is_ok(),
            "left to the check after parsing"
        );
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
        assert!(
            checked(
                "mutation { ...F ... on Mutation { login(email: \"a\", password: \"c\") { __typename } } } \
                 fragment F on Mutation { login(email: \"a\", password: \"b\") { __typename } }"
            )
            .is_err()
        );
    }

    #[test]
    fn lexical_limits_stop_deep_and_long_documents_before_parsing() {
        let deep = format!("{}{}", "{ a ".repeat(10_000), "}".repeat(10_000));
        assert!(precheck(&deep, &LIMITS).is_err());
        let long = format!("{{ {} }}", "a ".repeat(2_000));
        assert!(precheck(&long, &LIMITS).is_err());
        // Braces inside strings and comments do not count.
        let quoted = format!(
            "{{ a(s: \"{}\", t: \"\"\"{}\"\"\") }} # {}",
            "{".repeat(100),
            "[".repeat(100),
            "(".repeat(100)
        );
        assert!(precheck(&quoted, &LIMITS).is_ok());
    }

    #[test]
    fn deep_selections_and_alias_floods_are_refused_by_the_scan() {
        let nested = |levels: usize| format!("{}{}", "{ a ".repeat(levels), "}".repeat(levels));
        assert!(precheck(&nested(LIMITS.max_depth + 1), &LIMITS).is_ok());
        assert!(precheck(&nested(LIMITS.max_depth + 2), &LIMITS).is_err());
        // Braces and colons inside arguments and variable definitions are values, not
        // selections or aliases.
        let values = format!(
            "query($v: In = {{a: {{b: 1}}}}) {{ a(o: {{ {} }}, l: [{{x: 1}}]) {{ b }} }}",
            (0..20)
                .map(|n| format!("k{n}: {{ z: 1 }}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(precheck(&values, &LIMITS).is_ok());
        let aliases = |count: usize| {
            format!(
                "{{ {} }}",
                (0..count).map(|n| format!("a{n}: a ")).collect::<String>()
            )
        };
        assert!(precheck(&aliases(LIMITS.max_aliases), &LIMITS).is_ok());
        let flood = precheck(&aliases(LIMITS.max_aliases + 1), &LIMITS).unwrap_err();
        assert!(flood.message.contains("aliases"), "{}", flood.message);
    }

    #[test]
    fn aliases_directives_and_fields_are_counted() {
        let aliases: String = (0..6).map(|i| format!("a{i}: a ")).collect();
        assert!(checked(&format!("{{ {aliases} }}")).is_err());
        assert!(checked("{ a @skip(if: true) @skip(if: true) @skip(if: true) @skip(if: true) @skip(if: true) }").is_err());
        let fields = "a ".repeat(51);
        assert!(checked(&format!("{{ {fields} }}")).is_err());
    }

    #[test]
    fn fragment_bombs_and_cycles_are_refused() {
        // Each level doubles: 2^20 fields once expanded, from a short text.
        let mut bomb = String::from("{ ...F0 } fragment F20 on Query { a }");
        for level in 0..20 {
            bomb.push_str(&format!(
                " fragment F{level} on Query {{ ...F{next} ...F{next} }}",
                next = level + 1
            ));
        }
        let error = checked(&bomb).unwrap_err();
        assert!(error.message.contains("fields"), "{}", error.message);
        assert!(
            checked("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }").is_err()
        );
    }

    #[test]
    fn get_requests_run_queries_only() {
        let parse = |q| async_graphql::parser::parse_query(q).unwrap();
        assert!(refuse_mutations(&parse("{ a }"), None).is_ok());
        assert!(refuse_mutations(&parse("mutation { a }"), None).is_err());
        let both = parse("query Q { a } mutation M { b }");
        assert!(refuse_mutations(&both, Some("Q")).is_ok());
        assert!(refuse_mutations(&both, Some("M")).is_err());
    }
}
