//! What an operation costs and how deep it nests, known before it runs: the schema's fields and
//! their sizing rules are read once from its SDL, then each operation is priced in one walk.
//!
//! Pricing: a field costs 1 plus what its selection costs; a field sized by `first`/`last` (a
//! connection or a bounded list) costs 1 plus its selection once per item it may return (the
//! argument, else its default, else the default page size, capped at the page-size maximum);
//! `nodes(ids:)` costs its selection once per id.
//!
//! Doing this outside async-graphql's validation keeps the schema free of extensions, which
//! would otherwise wrap the resolution of every single field.

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, FieldDefinition, OperationDefinition,
    OperationType, Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, Value as ConstValue, Variables};

use crate::domain::paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// How many times a field's selection is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sizing {
    /// Once.
    Single,
    /// Once per item of the page: `first`, else `last`, else this default.
    Page { default: usize },
    /// Once per id in `ids`.
    Ids,
}

#[derive(Debug, Clone)]
struct FieldRule {
    /// The named type the field returns (lists and non-null stripped).
    returns: String,
    sizing: Sizing,
}

/// An operation's size: how deep its fields nest and what it costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    /// Deepest nesting of fields (`{ a { b } }` is 2).
    pub depth: usize,
    /// Cost points, as the module documentation prices them.
    pub cost: usize,
}

/// The pricing rules of every field of a schema.
#[derive(Debug, Clone, Default)]
pub struct CostModel {
    /// Type name → field name → rule.
    fields: HashMap<String, HashMap<String, FieldRule>>,
    query_root: String,
    mutation_root: String,
    subscription_root: String,
}

impl CostModel {
    /// Reads the rules from a schema's SDL; `None` when it does not parse.
    pub fn from_sdl(sdl: &str) -> Option<Self> {
        let document = async_graphql::parser::parse_schema(sdl).ok()?;
        let mut model = Self {
            query_root: "Query".to_owned(),
            mutation_root: "Mutation".to_owned(),
            subscription_root: "Subscription".to_owned(),
            ..Self::default()
        };
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    if let Some(name) = schema.query {
                        model.query_root = name.node.to_string();
                    }
                    if let Some(name) = schema.mutation {
                        model.mutation_root = name.node.to_string();
                    }
                    if let Some(name) = schema.subscription {
                        model.subscription_root = name.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let fields = match ty.kind {
                        TypeKind::Object(object) => object.fields,
                        TypeKind::Interface(interface) => interface.fields,
                        _ => continue,
                    };
                    let rules = fields
                        .into_iter()
                        .map(|field| (field.node.name.node.to_string(), rule_of(&field.node)))
                        .collect();
                    model.fields.insert(ty.name.node.to_string(), rules);
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        Some(model)
    }

    /// The size of the operation `operation_name` selects in `document` (nothing when the
    /// document does not say which one; validation refuses it). Fragment cycles count nothing:
    /// they are refused before this runs.
    pub fn measure(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> Measure {
        let operation = match (&document.operations, operation_name) {
            (DocumentOperations::Single(operation), _) => operation,
            (DocumentOperations::Multiple(operations), Some(name)) => match operations.get(name) {
                Some(operation) => operation,
                None => return Measure::default(),
            },
            (DocumentOperations::Multiple(_), None) => return Measure::default(),
        };
        let root = match operation.node.ty {
            OperationType::Query => &self.query_root,
            OperationType::Mutation => &self.mutation_root,
            OperationType::Subscription => &self.subscription_root,
        };
        let mut walk = Walk {
            model: self,
            document,
            operation: &operation.node,
            variables,
            fragments: HashMap::new(),
        };
        walk.selection_set(&operation.node.selection_set.node, root)
    }
}

fn rule_of(field: &FieldDefinition) -> FieldRule {
    let argument = |name: &str| {
        field
            .arguments
            .iter()
            .find(|argument| argument.node.name.node == name)
    };
    let sizing = if let Some(first) = argument("first") {
        let default = match first.node.default_value.as_ref().map(|v| &v.node) {
            Some(ConstValue::Number(n)) => n.as_u64().map_or(0, saturating_usize),
            _ => DEFAULT_PAGE_SIZE,
        };
        Sizing::Page { default }
    } else if argument("ids").is_some() {
        Sizing::Ids
    } else {
        Sizing::Single
    };
    FieldRule {
        returns: named_type(&field.ty.node).to_owned(),
        sizing,
    }
}

fn named_type(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named_type(inner),
    }
}

fn saturating_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

struct Walk<'a> {
    model: &'a CostModel,
    document: &'a ExecutableDocument,
    operation: &'a OperationDefinition,
    variables: &'a Variables,
    /// Fragments measured so far (`None` while being measured: a cycle counts nothing).
    fragments: HashMap<&'a str, Option<Measure>>,
}

impl<'a> Walk<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, parent: &str) -> Measure {
        let mut total = Measure::default();
        for selection in &set.items {
            let measure = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let rule = self
                        .model
                        .fields
                        .get(parent)
                        .and_then(|fields| fields.get(field.name.node.as_str()));
                    let returns = rule.map_or("", |rule| rule.returns.as_str());
                    let inner = self.selection_set(&field.selection_set.node, returns);
                    let cost = match rule.map(|rule| rule.sizing) {
                        None | Some(Sizing::Single) => inner.cost.saturating_add(1),
                        Some(Sizing::Page { default }) => {
                            let size = self
                                .count(field, "first")
                                .or_else(|| self.count(field, "last"))
                                .unwrap_or(default)
                                .min(MAX_PAGE_SIZE);
                            size.saturating_mul(inner.cost).saturating_add(1)
                        }
                        Some(Sizing::Ids) => self
                            .list_length(field, "ids")
                            .max(1)
                            .saturating_mul(inner.cost),
                    };
                    Measure {
                        depth: inner.depth + 1,
                        cost,
                    }
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let on = inline
                        .type_condition
                        .as_ref()
                        .map_or(parent, |condition| condition.node.on.node.as_str());
                    self.selection_set(&inline.selection_set.node, on)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str())
                }
            };
            total.depth = total.depth.max(measure.depth);
            total.cost = total.cost.saturating_add(measure.cost);
        }
        total
    }

    fn fragment(&mut self, name: &'a str) -> Measure {
        match self.fragments.get(name) {
            Some(Some(measure)) => return *measure,
            Some(None) => return Measure::default(),
            None => {}
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Measure::default();
        };
        self.fragments.insert(name, None);
        let fragment = &fragment.node;
        let measure = self.selection_set(
            &fragment.selection_set.node,
            fragment.type_condition.node.on.node.as_str(),
        );
        self.fragments.insert(name, Some(measure));
        measure
    }

    /// The argument's value, with variables substituted (their defaults when not given).
    fn argument(&self, field: &Field, name: &str) -> Option<ConstValue> {
        let (_, value) = field.arguments.iter().find(|(n, _)| n.node == name)?;
        value
            .node
            .clone()
            .into_const_with(|variable| {
                self.variables
                    .get(&variable)
                    .cloned()
                    .or_else(|| self.variable_default(&variable))
                    .ok_or(())
            })
            .ok()
    }

    fn variable_default(&self, variable: &Name) -> Option<ConstValue> {
        self.operation
            .variable_definitions
            .iter()
            .find(|definition| definition.node.name.node == *variable)
            .and_then(|definition| definition.node.default_value.as_ref())
            .map(|default| default.node.clone())
    }

    fn count(&self, field: &Field, name: &str) -> Option<usize> {
        match self.argument(field, name)? {
            // Negative sizes are refused when the field runs; they cost nothing here.
            ConstValue::Number(n) => Some(n.as_u64().map_or(0, saturating_usize)),
            _ => None,
        }
    }

    fn list_length(&self, field: &Field, name: &str) -> usize {
        match self.argument(field, name) {
            Some(ConstValue::List(items)) => items.len(),
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = r#"
        type Query {
            products(first: Int, last: Int): ProductConnection!
            nodes(ids: [ID!]!): [Node]!
            reviewsToModerate(first: Int! = 5): [Review!]!
            categories: [Category!]!
        }
        type ProductConnection { edges: [ProductEdge!]! }
        type ProductEdge { node: Product! }
        type Product implements Node { id: ID! name: String! }
        type Review { body: String! }
        type Category { name: String! products(first: Int): ProductConnection! }
        interface Node { id: ID! }
        schema { query: Query }
    "#;

    fn measure(query: &str, variables: serde_json::Value) -> Measure {
        let model = CostModel::from_sdl(SDL).unwrap();
        let document = async_graphql::parser::parse_query(query).unwrap();
        model.measure(&document, None, &Variables::from_json(variables))
    }

    #[test]
    fn plain_fields_cost_one_each() {
        let m = measure("{ categories { name } }", serde_json::json!({}));
        assert_eq!(m, Measure { depth: 2, cost: 2 });
    }

    #[test]
    fn pages_cost_their_selection_per_item() {
        let q = "{ products(first: 10) { edges { node { name } } } }";
        assert_eq!(measure(q, serde_json::json!({})).cost, 31);
        let q = "query($n: Int) { products(last: $n) { edges { node { name } } } }";
        assert_eq!(measure(q, serde_json::json!({ "n": 3 })).cost, 10);
        let q = "query($n: Int = 2) { products(first: $n) { edges { node { name } } } }";
        assert_eq!(measure(q, serde_json::json!({})).cost, 7);
        let q = "{ products { edges { node { name } } } }";
        assert_eq!(
            measure(q, serde_json::json!({})).cost,
            61,
            "default page size"
        );
        let q = "{ products(first: 100000) { edges { node { name } } } }";
        assert_eq!(
            measure(q, serde_json::json!({})).cost,
            301,
            "capped page size"
        );
        let q = "{ reviewsToModerate { body } }";
        assert_eq!(
            measure(q, serde_json::json!({})).cost,
            6,
            "the argument's own default"
        );
    }

    #[test]
    fn nested_pages_multiply() {
        let q = "{ categories { products(first: 2) { edges { node { name } } } } }";
        assert_eq!(
            measure(q, serde_json::json!({})),
            Measure { depth: 5, cost: 8 }
        );
    }

    #[test]
    fn nodes_cost_per_id_and_fragments_count_where_spread() {
        let q =
            "query($ids: [ID!]!) { nodes(ids: $ids) { ...P } } fragment P on Product { id name }";
        let m = measure(q, serde_json::json!({ "ids": ["a", "b", "c"] }));
        assert_eq!(m, Measure { depth: 2, cost: 6 });
        let q = "{ nodes(ids: [\"a\"]) { ... on Product { products: name } } }";
        assert_eq!(measure(q, serde_json::json!({})).cost, 1);
    }
}
