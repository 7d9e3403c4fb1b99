//! Response maps in the order the fields were asked for (GraphQL spec, "Serialized Map
//! Ordering"). async-graphql 7 resolves a query's fields concurrently and inserts each result
//! as it completes, so a field whose resolver waited on the database can come out after one
//! asked later. [`restore`] puts every object of the response back in selection order.

use async_graphql::parser::types::{
    ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Value};

/// The order of an object's response keys, with the plan of each key's value.
#[derive(Default)]
struct Plan<'a> {
    keys: Vec<(&'a str, Plan<'a>)>,
}

impl<'a> Plan<'a> {
    /// The plan of the selection sets `sets` (merged, as fields with one response key are),
    /// fragments expanded in place.
    fn of(document: &'a ExecutableDocument, sets: &[&'a SelectionSet]) -> Self {
        let mut fields: Vec<(&'a str, Vec<&'a SelectionSet>)> = Vec::new();
        for set in sets {
            collect(document, set, &mut fields, 0);
        }
        Self {
            keys: fields
                .into_iter()
                .map(|(key, children)| {
                    let plan = if children.is_empty() {
                        Plan::default()
                    } else {
                        Plan::of(document, &children)
                    };
                    (key, plan)
                })
                .collect(),
        }
    }

    fn position(&self, key: &Name) -> usize {
        self.keys
            .iter()
            .position(|(k, _)| *k == key.as_str())
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
                    if let Some((_, plan)) = self.keys.iter().find(|(k, _)| *k == key.as_str())
                        && !plan.keys.is_empty()
                    {
                        plan.apply(child);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Fragments nest at most this deep (the document limits refuse deeper ones anyway).
const MAX_FRAGMENT_DEPTH: usize = 32;

fn collect<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    fields: &mut Vec<(&'a str, Vec<&'a SelectionSet>)>,
    depth: usize,
) {
    if depth > MAX_FRAGMENT_DEPTH {
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.as_str();
                let index = match fields.iter().position(|(k, _)| *k == key) {
                    Some(index) => index,
                    None => {
                        fields.push((key, Vec::new()));
                        fields.len() - 1
                    }
                };
                let children = &field.node.selection_set.node;
                if !children.items.is_empty() {
                    fields[index].1.push(children);
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

/// Puts every object of `data` in the order its fields were selected by the operation
/// `operation_name` of `document`.
pub fn restore(data: &mut Value, document: &ExecutableDocument, operation_name: Option<&str>) {
    if let Some(operation) = operation(document, operation_name) {
        Plan::of(document, &[&operation.selection_set.node]).apply(data);
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::value;

    use super::*;

    fn restored(query: &str, mut data: Value) -> String {
        let document = async_graphql::parser::parse_query(query).unwrap();
        restore(&mut data, &document, None);
        data.to_string()
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
