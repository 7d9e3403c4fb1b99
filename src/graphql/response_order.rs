//! What an operation's response holds, per its selections. Response maps in the order the
//! fields were asked for (GraphQL spec, "Serialized Map Ordering"): async-graphql 7 resolves a
//! query's fields concurrently and inserts each result as it completes, so a field whose
//! resolver waited on the database can come out after one asked later; [`Selections::restore`]
//! puts every object of the response back in selection order. And the query's actual cost:
//! [`Selections::count_fields`] counts the fields of the response (see `query_cost`).

use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Value};

use crate::graphql::query_cost::is_introspection;

/// The order of an object's response keys, with the plan of each key's value.
#[derive(Default)]
struct Plan<'a> {
    keys: Vec<Key<'a>>,
}

/// One response key of an object.
struct Key<'a> {
    name: &'a str,
    /// Whether the key's field counts in the actual cost (introspection does not).
    counted: bool,
    /// The plan of its value; empty for a leaf (a scalar, however much JSON it holds).
    plan: Plan<'a>,
}

impl<'a> Plan<'a> {
    /// The plan of the selection sets `sets` (merged, as fields with one response key are),
    /// fragments expanded in place.
    fn of(document: &'a ExecutableDocument, sets: &[&'a SelectionSet]) -> Self {
        let mut fields: Vec<Collected<'a>> = Vec::new();
        for set in sets {
            collect(document, set, &mut fields, 0);
        }
        Self {
            keys: fields
                .into_iter()
                .map(|field| Key {
                    name: field.key,
                    counted: field.counted,
                    plan: if field.children.is_empty() {
                        Plan::default()
                    } else {
                        Plan::of(document, &field.children)
                    },
                })
                .collect(),
        }
    }

    fn key(&self, name: &str) -> Option<&Key<'a>> {
        self.keys.iter().find(|key| key.name == name)
    }

    fn position(&self, key: &Name) -> usize {
        self.keys
            .iter()
            .position(|k| k.name == key.as_str())
            .unwrap_or(usize::MAX)
    }

    fn apply(&self, value: &mut Value) {
        match value {
            Value::List(items) => items.iter_mut().for_each(|item| self.apply(item)),
            Value::Object(object) => {
                let in_order = object.keys().map(|key| self.position(key)).is_sorted();
                if !in_order {
                    object.sort_by_cached_key(|key, _| self.position(key));
                }
                for (key, child) in object.iter_mut() {
                    if let Some(key) = self.key(key.as_str())
                        && !key.plan.keys.is_empty()
                    {
                        key.plan.apply(child);
                    }
                }
            }
            _ => {}
        }
    }

    fn count(&self, value: &Value) -> usize {
        match value {
            Value::List(items) => items.iter().map(|item| self.count(item)).sum(),
            Value::Object(object) => object
                .iter()
                .map(|(name, child)| match self.key(name.as_str()) {
                    Some(key) if !key.counted => 0,
                    Some(key) if key.plan.keys.is_empty() => 1,
                    Some(key) => 1 + key.plan.count(child),
                    // Not asked for (it cannot happen): every field under it counts.
                    None => 1 + count_all(child),
                })
                .sum(),
            _ => 0,
        }
    }
}

/// Every field of `value`: objects' keys, at any depth.
fn count_all(value: &Value) -> usize {
    match value {
        Value::Object(object) => object.len() + object.values().map(count_all).sum::<usize>(),
        Value::List(items) => items.iter().map(count_all).sum(),
        _ => 0,
    }
}

/// Fragments nest at most this deep (the document limits refuse deeper ones anyway).
const MAX_FRAGMENT_DEPTH: usize = 32;

/// The fields selected under one response key.
struct Collected<'a> {
    key: &'a str,
    counted: bool,
    children: Vec<&'a SelectionSet>,
}

fn collect<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    fields: &mut Vec<Collected<'a>>,
    depth: usize,
) {
    if depth > MAX_FRAGMENT_DEPTH {
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.as_str();
                let index = match fields.iter().position(|f| f.key == key) {
                    Some(index) => index,
                    None => {
                        fields.push(Collected {
                            key,
                            counted: !is_introspection(field.node.name.node.as_str()),
                            children: Vec::new(),
                        });
                        fields.len() - 1
                    }
                };
                let children = &field.node.selection_set.node;
                if !children.items.is_empty() {
                    fields[index].children.push(children);
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    collect(
                        document,
                        &fragment.node.selection_set.node,
                        fields,
                        depth + 1,
                    );
                }
            }
            Selection::InlineFragment(inline) => {
                collect(document, &inline.node.selection_set.node, fields, depth + 1);
            }
        }
    }
}

/// The operation a request runs: the named one, or the only one.
fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    let mut operations = document.operations.iter();
    match name {
        Some(name) => operations
            .find(|(op_name, _)| op_name.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| &op.node),
        None => operations.next().map(|(_, op)| &op.node),
    }
}

/// The selections of one operation, merged per response key, as its response holds them.
pub struct Selections<'a> {
    plan: Plan<'a>,
}

impl<'a> Selections<'a> {
    /// The selections of the operation `operation_name` of `document` (none if it has no such
    /// operation).
    pub fn of(document: &'a ExecutableDocument, operation_name: Option<&str>) -> Self {
        let plan = operation(document, operation_name)
            .map(|operation| Plan::of(document, &[&operation.selection_set.node]))
            .unwrap_or_default();
        Self { plan }
    }

    /// Puts every object of `data` in the order its fields were selected.
    pub fn restore(&self, data: &mut Value) {
        self.plan.apply(data);
    }

    /// The fields in `data`: every response key of every object, a leaf counting one however
    /// much JSON it holds (`Order.shippingAddress`), introspection (`__schema`, `__type`)
    /// counting nothing. What the query actually cost.
    pub fn count_fields(&self, data: &Value) -> usize {
        self.plan.count(data)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::value;

    use super::*;

    fn restored(query: &str, mut data: Value) -> String {
        let document = async_graphql::parser::parse_query(query).unwrap();
        Selections::of(&document, None).restore(&mut data);
        data.to_string()
    }

    fn counted(query: &str, data: Value) -> usize {
        let document = async_graphql::parser::parse_query(query).unwrap();
        Selections::of(&document, None).count_fields(&data)
    }

    #[test]
    fn every_field_counts_once_and_a_scalar_whatever_json_it_holds() {
        let query = "{ orders { number address } more: orders { number } }";
        let data = value!({
            "orders": [
                { "number": 1, "address": { "line1": "x", "city": "y", "parts": [{ "a": 1 }] } },
                { "number": 2, "address": null },
            ],
            "more": [],
        });
        assert_eq!(counted(query, data), 2 + 2 * 2);
        assert_eq!(counted("{ a }", Value::Null), 0, "no data");
    }

    #[test]
    fn introspection_is_not_counted() {
        let query = "{ __typename s: __schema { types { name } } __type(name: \"Q\") { name } }";
        let data = value!({
            "__typename": "Query",
            "s": { "types": [{ "name": "A" }, { "name": "B" }] },
            "__type": { "name": "Q" },
        });
        assert_eq!(counted(query, data), 1);
    }

    #[test]
    fn fragments_merge_into_their_keys() {
        let query = "{ node { ...F ... on T { y } } } fragment F on T { x y }";
        let data = value!({ "node": { "x": 1, "y": 2 } });
        assert_eq!(counted(query, data), 3);
    }

    #[test]
    fn objects_follow_the_selection_at_every_level_and_through_fragments() {
        let query = "{ b a list { y ...F } } fragment F on T { x ... on T { w } }";
        let data = value!({
            "list": [{ "w": 1, "x": 2, "y": 3 }, { "x": 4, "y": 5, "w": 6 }],
            "a": 1,
            "b": 2,
        });
        assert_eq!(
            restored(query, data),
            r#"{b: 2, a: 1, list: [{y: 3, x: 2, w: 1}, {y: 5, x: 4, w: 6}]}"#
        );
    }

    #[test]
    fn aliases_are_the_keys() {
        let data = value!({ "second": 2, "first": 1 });
        assert_eq!(
            restored("{ first: n second: n }", data),
            "{first: 1, second: 2}"
        );
    }
}
