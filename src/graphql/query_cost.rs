//! What an operation costs and how deep it nests, known before it runs: the schema's fields and
//! their sizing rules are read once from its SDL, then each operation is priced in one walk.
//!
//! # The requested cost is an upper bound
//!
//! A query is charged its requested cost up front and settled to its actual cost once it has run
//! (`services::cost`), as in Shopify's model. The actual cost is the number of fields in the
//! response's data (`response_order::Selections::count_fields`: a JSON scalar is one field). If
//! the requested cost could be below the actual one, a query that looked cheap could overdraw a
//! bucket, so every field is priced at the most it can return:
//!
//! - A field costs 1 plus what its selection costs.
//! - A list costs 1 plus its selection once per item it can hold. Every list field has a bound
//!   the server guarantees, in one table, [`LIST_BOUNDS`]; a list that also takes `first` is
//!   sized by it (else by its default), never above the bound. A list of scalars or enums is one
//!   field of the response whatever its length: it costs 1.
//! - A Relay connection costs 1 plus its selection, in which `edges` costs 1 plus the edge's
//!   selection once per item of the page: `first`, else `last`, else the argument's default,
//!   else the default page size, capped at the page-size maximum (`domain::paging`). `pageInfo`
//!   is counted once, as it comes back once. A full page costs what it requested.
//! - `nodes(ids:)` costs 1 plus its selection once per id.
//! - Fragments cost what their selections cost where they are spread, every type condition
//!   counted (only one applies to each object: an upper bound). Directives are ignored (`@skip`
//!   can only make the answer smaller).
//! - Introspection (`__schema`, `__type`) costs nothing and is not counted in the actual cost:
//!   it reads the schema, not the database, is off in production, and GraphiQL's own query
//!   returns thousands of fields. `__typename` is a field like any other.
//! - A list field without a known bound cannot be priced: it costs more than any bucket holds,
//!   so a query asking for it is refused rather than undercharged. The unit test
//!   `every_list_field_of_the_schema_has_a_bound` fails first, so a new list cannot ship unpriced.
//!
//! # The bound of each list, and why it holds
//!
//! Domain maxima live in `domain::bounds` (and `domain::address`, `domain::paging`). A write that
//! would pass one is refused with a `LIMIT_REACHED` user error, under a lock of the parent row so
//! that concurrent writes take turns; reads cut the list at the same maximum besides, so the bound
//! holds even for rows written behind the API. Where a maximum is large, the list also takes
//! `first` (by default the maximum: nothing is cut unless asked), so that a client asking for
//! `variants(first: 5)` pays for five.
//!
//! | list | bound | `first` | held by |
//! |---|---|---|---|
//! | `Query.categories` | 50 | yes | `categoryCreate` refuses a 51st top-level category |
//! | `Category.children` | 50 | yes | `categoryCreate` refuses a 51st subcategory of one parent |
//! | `Product.variants` | 100 | yes | `variantCreate` refuses a 101st variant (archived ones count) |
//! | `Product.images` | 20 | yes | `productImageAdd` refuses a 21st image |
//! | `Variant.selectedOptions` | 3 | no | `variantCreate` refuses a 4th option value; read cut at 3 |
//! | `Product.options` | 3 | no | variant writes refuse a 4th option name among a product's variants on sale; read cut at 3 |
//! | `Product.collections` | 25 | no | `collectionAddProducts` refuses a product's 26th collection (under the product's row lock); read cut at 25 |
//! | `ProductFacets.categories` | 100 | no | read: the 100 categories holding the most matching products |
//! | `ProductFacets.options`, `OptionFacet.values` | 10, 50 | no | read: the options and values the most matching products have |
//! | `ProductFacets.priceBands` | 11 | no | `priceBands` takes at most 10 boundaries |
//! | `Account.addresses` | 20 | no | `addressAdd` refuses a 21st address; read cut at 20 |
//! | `Cart.lines` | 50 | yes | `cartLinesAdd`/`cartLinesUpdate` refuse a 51st line (under the cart's row lock); a sign-in merge stops at 50 |
//! | `Order.lines` | 50 | yes | an order's lines are its cart's |
//! | `Order.events` | 14 | no | `CREATED`, at most 3 transitions (the state machine has no cycle), one `PAYMENT_REVERSED` per charge attempt; read cut at 14 |
//! | `Order.payments` | 25 | no | `orderPay` refuses an 11th charge attempt, `orderRefund` a 6th refund attempt; one automatic refund per charge; read cut at 25 |
//! | `Order.fulfillments` | 50 | yes | `fulfillmentCreate` refuses a 51st fulfilment of one order (under the order's row lock); read cut at 50 |
//! | `Fulfillment.lines` | 50 | no | a fulfilment names each of its order's lines (at most 50) once |
//! | `Order.notes` | 100 | no | `orderNoteAdd` refuses a 101st note on one order (under the order's row lock); read cut at 100 |
//! | `Query.reviewsToModerate` | 100 | yes | its `first` is 1 to 100 |
//! | `Shop.shippingZones` | 100 | no | `shippingZoneCreate` refuses a 101st zone; read cut at 100 |
//! | `ShippingZone.regions` | 300 | no | zone writes take 1 to 300 countries or regions; read cut at 300 |
//! | `ShippingZone.methods`, `Cart.deliveryOptions` | 20 | no | `shippingMethodCreate` refuses a 21st method of one zone (under the zone's row lock); a cart is offered one zone's methods; read cut at 20 |
//! | `Shop.taxRates` | 500 | no | `taxRateCreate` refuses a 501st rate; read cut at 500 |
//! | `Totals.taxLines` | 10 | no | a country's rates and its region's, `taxRateCreate` refusing a 6th for one place; pricing uses at most 10 |
//! | `Query.webhookSubscriptions` | 100 | yes | its `first` is 0 to 100 (an app holds at most 10) |
//! | `Product`/`Variant`/`Order`/`Account` `.metadata` | 50 | no | `metadataSet` refuses a 51st key on one side of one owner (under the owner's row lock); read cut at 50 |
//! | `WebhookDelivery.attempts` | 16 | no | read: the 16 latest tries (8 per round; a retry by hand starts a round) |
//! | `InventorySetQuantitiesPayload.userErrors`, `.levels` | 250 | no | one per line; `inventorySetQuantities` takes at most 250 lines |
//! | `*.userErrors` | 10 | no | a use case reports at most one problem per input field; `respond` keeps 10 |
//! | `*Connection.edges` | the page | on the connection | `first`/`last` at most 100 |
//! | `Query.nodes` | its ids | — | at most 100 ids |
//! | `UserError.field` | — | — | a list of strings: one field of the response |

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, FieldDefinition, OperationDefinition, OperationType,
    Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, Value as ConstValue, Variables};

use crate::domain::address::MAX_ADDRESSES_PER_ACCOUNT;
use crate::domain::bounds::{
    MAX_CART_LINES, MAX_CATEGORY_CHILDREN, MAX_COLLECTIONS_PER_PRODUCT, MAX_EVENTS_PER_ORDER,
    MAX_IMAGES_PER_PRODUCT, MAX_OPTIONS_PER_PRODUCT, MAX_OPTIONS_PER_VARIANT,
    MAX_PAYMENTS_PER_ORDER, MAX_STOCK_LINES, MAX_USER_ERRORS, MAX_VARIANTS_PER_PRODUCT,
};
use crate::domain::delivery::{
    MAX_SHIPPING_ZONES, MAX_TAX_LINES, MAX_TAX_RATES, MAX_ZONE_METHODS, MAX_ZONE_REGIONS,
};
use crate::domain::facets::{
    MAX_CATEGORY_FACETS, MAX_OPTION_FACETS, MAX_OPTION_VALUE_FACETS, MAX_PRICE_BOUNDARIES,
};
use crate::domain::fulfillments::MAX_FULFILLMENTS_PER_ORDER;
use crate::domain::metadata::MAX_METADATA_ENTRIES;
use crate::domain::orders::MAX_NOTES_PER_ORDER;
use crate::domain::paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::domain::partners::KEYS_LISTED_PER_APP;
use crate::domain::webhooks::ATTEMPTS_LISTED_PER_DELIVERY;

/// The most items of every list field that is neither a connection's `edges`, nor sized by
/// `ids`, nor a list of scalars: `(type, field, most)`, `"*"` standing for any type. The module
/// documentation says why each holds.
pub const LIST_BOUNDS: &[(&str, &str, usize)] = &[
    ("Query", "categories", MAX_CATEGORY_CHILDREN),
    ("Category", "children", MAX_CATEGORY_CHILDREN),
    ("Product", "variants", MAX_VARIANTS_PER_PRODUCT),
    ("Product", "images", MAX_IMAGES_PER_PRODUCT),
    ("Variant", "selectedOptions", MAX_OPTIONS_PER_VARIANT),
    ("Product", "options", MAX_OPTIONS_PER_PRODUCT),
    ("Product", "collections", MAX_COLLECTIONS_PER_PRODUCT),
    ("ProductFacets", "categories", MAX_CATEGORY_FACETS),
    ("ProductFacets", "options", MAX_OPTION_FACETS),
    ("OptionFacet", "values", MAX_OPTION_VALUE_FACETS),
    ("ProductFacets", "priceBands", MAX_PRICE_BOUNDARIES + 1),
    ("Account", "addresses", MAX_ADDRESSES_PER_ACCOUNT),
    ("Cart", "lines", MAX_CART_LINES),
    ("Order", "lines", MAX_CART_LINES),
    ("Order", "events", MAX_EVENTS_PER_ORDER),
    ("Order", "payments", MAX_PAYMENTS_PER_ORDER),
    ("Order", "fulfillments", MAX_FULFILLMENTS_PER_ORDER),
    ("Fulfillment", "lines", MAX_CART_LINES),
    ("Order", "notes", MAX_NOTES_PER_ORDER),
    ("Query", "reviewsToModerate", MAX_PAGE_SIZE),
    ("Shop", "shippingZones", MAX_SHIPPING_ZONES),
    ("ShippingZone", "regions", MAX_ZONE_REGIONS),
    ("ShippingZone", "methods", MAX_ZONE_METHODS),
    ("Cart", "deliveryOptions", MAX_ZONE_METHODS),
    ("Shop", "taxRates", MAX_TAX_RATES),
    ("Totals", "taxLines", MAX_TAX_LINES),
    (
        "InventorySetQuantitiesPayload",
        "userErrors",
        MAX_STOCK_LINES,
    ),
    ("InventorySetQuantitiesPayload", "levels", MAX_STOCK_LINES),
    ("*", "userErrors", MAX_USER_ERRORS),
    ("App", "keys", KEYS_LISTED_PER_APP),
    ("Query", "webhookSubscriptions", MAX_PAGE_SIZE),
    ("WebhookDelivery", "attempts", ATTEMPTS_LISTED_PER_DELIVERY),
    ("*", "metadata", MAX_METADATA_ENTRIES),
];

/// The cost of a field that cannot be priced: more than any bucket holds.
pub const UNPRICEABLE: usize = usize::MAX;

/// How many times a field's selection is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sizing {
    /// Once.
    Single,
    /// A Relay connection: its `edges` are counted once per item of the page (`first`, else
    /// `last`, else this default, capped at the page-size maximum).
    Connection { default: usize },
    /// A connection's `edges`: once per item of the page its connection field asked for.
    Edges,
    /// A list of at most `most` items; `first` (else `default`) sizes it when the field takes
    /// `first` (then `default` is `Some`).
    List { most: usize, default: Option<usize> },
    /// Once per id in `ids`.
    Ids,
    /// A list without a known bound: it cannot be priced.
    Unbounded,
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
    /// Cost points, as the module documentation prices them ([`UNPRICEABLE`] when a list has no
    /// known bound).
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
        let kinds = TypeKinds::of(&document.definitions);
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
                    let owner = ty.name.node.as_str();
                    let rules = fields
                        .into_iter()
                        .map(|field| {
                            let rule = kinds.rule_of(owner, &field.node);
                            (field.node.name.node.to_string(), rule)
                        })
                        .collect();
                    model.fields.insert(owner.to_owned(), rules);
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
        let Some(operation) = crate::graphql::limits::selected_operation(document, operation_name)
        else {
            return Measure::default();
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
        walk.selection_set(&operation.node.selection_set.node, root, None)
    }
}

/// Which named types are leaves (scalars and enums) and which are Relay connections (objects
/// with a list of `edges` and a `pageInfo`).
struct TypeKinds {
    leaves: HashSet<String>,
    connections: HashSet<String>,
}

impl TypeKinds {
    fn of(definitions: &[TypeSystemDefinition]) -> Self {
        let mut kinds = Self {
            leaves: ["String", "Int", "Float", "Boolean", "ID"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            connections: HashSet::new(),
        };
        for definition in definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let name = ty.node.name.node.to_string();
            match &ty.node.kind {
                TypeKind::Scalar | TypeKind::Enum(_) => {
                    kinds.leaves.insert(name);
                }
                TypeKind::Object(object) => {
                    let has = |wanted: &str, list: bool| {
                        object.fields.iter().any(|field| {
                            field.node.name.node == wanted && is_list(&field.node.ty.node) == list
                        })
                    };
                    if has("edges", true) && has("pageInfo", false) {
                        kinds.connections.insert(name);
                    }
                }
                _ => {}
            }
        }
        kinds
    }

    fn rule_of(&self, owner: &str, field: &FieldDefinition) -> FieldRule {
        let name = field.name.node.as_str();
        let returns = named_type(&field.ty.node).to_owned();
        let argument = |wanted: &str| {
            field
                .arguments
                .iter()
                .find(|argument| argument.node.name.node == wanted)
        };
        // `Some(default)` when the field takes `first`; the default is `None` when it has none.
        let first = argument("first").map(|first| {
            match first.node.default_value.as_ref().map(|v| &v.node) {
                Some(ConstValue::Number(n)) => Some(n.as_u64().map_or(0, saturating_usize)),
                _ => None,
            }
        });
        let sizing = if argument("ids").is_some() {
            Sizing::Ids
        } else if self.connections.contains(&returns) {
            match first {
                Some(default) => Sizing::Connection {
                    default: default.unwrap_or(DEFAULT_PAGE_SIZE),
                },
                None => Sizing::Unbounded,
            }
        } else if name == "edges" && self.connections.contains(owner) {
            Sizing::Edges
        } else if !is_list(&field.ty.node) || self.leaves.contains(&returns) {
            Sizing::Single
        } else {
            match bound_of(owner, name) {
                Some(most) => Sizing::List {
                    most,
                    default: first.map(|default| default.unwrap_or(most)),
                },
                None => Sizing::Unbounded,
            }
        };
        FieldRule { returns, sizing }
    }
}

/// The entry of [`LIST_BOUNDS`] for `owner.field`.
fn bound_of(owner: &str, field: &str) -> Option<usize> {
    LIST_BOUNDS
        .iter()
        .find(|(ty, name, _)| (*ty == owner || *ty == "*") && *name == field)
        .map(|(_, _, most)| *most)
}

fn is_list(ty: &Type) -> bool {
    matches!(ty.base, BaseType::List(_))
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

/// Whether a field reads the schema rather than the data (`__typename` is data).
pub fn is_introspection(field_name: &str) -> bool {
    field_name.starts_with("__") && field_name != "__typename"
}

struct Walk<'a> {
    model: &'a CostModel,
    document: &'a ExecutableDocument,
    operation: &'a OperationDefinition,
    variables: &'a Variables,
    /// Fragments measured so far, by name and the page of the connection they are spread in
    /// (`None` while being measured: a cycle counts nothing).
    fragments: HashMap<(&'a str, Option<usize>), Option<Measure>>,
}

impl<'a> Walk<'a> {
    /// The size of `set` selected on `parent`; `page` is the page size of the connection
    /// `parent` is, if it is one.
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        parent: &str,
        page: Option<usize>,
    ) -> Measure {
        let mut total = Measure::default();
        for selection in &set.items {
            let measure = match &selection.node {
                Selection::Field(field) => self.field(&field.node, parent, page),
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let on = inline
                        .type_condition
                        .as_ref()
                        .map_or(parent, |condition| condition.node.on.node.as_str());
                    self.selection_set(&inline.selection_set.node, on, page)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), page)
                }
            };
            total.depth = total.depth.max(measure.depth);
            total.cost = total.cost.saturating_add(measure.cost);
        }
        total
    }

    fn field(&mut self, field: &'a Field, parent: &str, page: Option<usize>) -> Measure {
        let rule = self
            .model
            .fields
            .get(parent)
            .and_then(|fields| fields.get(field.name.node.as_str()));
        let returns = rule.map_or("", |rule| rule.returns.as_str());
        let sizing = rule.map_or(Sizing::Single, |rule| rule.sizing);
        let children = &field.selection_set.node;
        let (inner, times) = match sizing {
            Sizing::Single => (self.selection_set(children, returns, None), 1),
            Sizing::Connection { default } => {
                let size = self
                    .count(field, "first")
                    .or_else(|| self.count(field, "last"))
                    .unwrap_or(default)
                    .min(MAX_PAGE_SIZE);
                (self.selection_set(children, returns, Some(size)), 1)
            }
            Sizing::Edges => (
                self.selection_set(children, returns, None),
                page.unwrap_or(MAX_PAGE_SIZE),
            ),
            Sizing::List { most, default } => {
                let size = match default {
                    Some(default) => self.count(field, "first").unwrap_or(default).min(most),
                    None => most,
                };
                (self.selection_set(children, returns, None), size)
            }
            Sizing::Ids => (
                self.selection_set(children, returns, None),
                self.list_length(field, "ids"),
            ),
            Sizing::Unbounded => (self.selection_set(children, returns, None), UNPRICEABLE),
        };
        let cost = if is_introspection(field.name.node.as_str()) {
            0
        } else {
            times.saturating_mul(inner.cost).saturating_add(1)
        };
        let cost = if sizing == Sizing::Unbounded {
            UNPRICEABLE
        } else {
            cost
        };
        Measure {
            depth: inner.depth + 1,
            cost,
        }
    }

    fn fragment(&mut self, name: &'a str, page: Option<usize>) -> Measure {
        match self.fragments.get(&(name, page)) {
            Some(Some(measure)) => return *measure,
            Some(None) => return Measure::default(),
            None => {}
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Measure::default();
        };
        self.fragments.insert((name, page), None);
        let fragment = &fragment.node;
        let measure = self.selection_set(
            &fragment.selection_set.node,
            fragment.type_condition.node.on.node.as_str(),
            page,
        );
        self.fragments.insert((name, page), Some(measure));
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

    /// Items of a list argument; a single value counts one (input coercion makes it a list).
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
            categories(first: Int! = 50): [Category!]!
            tags: [String!]!
            unbounded: [Review!]!
        }
        type ProductConnection { edges: [ProductEdge!]! pageInfo: PageInfo! }
        type ProductEdge { cursor: String! node: Product! }
        type PageInfo { hasNextPage: Boolean! }
        type Product implements Node {
            id: ID! name: String!
            variants(first: Int! = 100): [Variant!]!
        }
        type Variant { sku: String! selectedOptions: [Option!]! }
        type Option { name: String! }
        type Review { body: String! }
        type Category { name: String! products(first: Int): ProductConnection! }
        type Payload { userErrors: [UserError!]! }
        type UserError { field: [String!] message: String! }
        type Mutation { act: Payload! }
        interface Node { id: ID! }
        schema { query: Query mutation: Mutation }
    "#;

    fn measure(query: &str, variables: serde_json::Value) -> Measure {
        let model = CostModel::from_sdl(SDL).unwrap();
        let document = async_graphql::parser::parse_query(query).unwrap();
        model.measure(&document, None, &Variables::from_json(variables))
    }

    fn cost(query: &str) -> usize {
        measure(query, serde_json::json!({})).cost
    }

    #[test]
    fn plain_fields_cost_one_each() {
        let m = measure(
            "{ products(first: 1) { pageInfo { hasNextPage } } }",
            serde_json::json!({}),
        );
        assert_eq!(m, Measure { depth: 3, cost: 3 });
        assert_eq!(cost("{ tags }"), 1, "a list of scalars is one field");
        assert_eq!(cost("{ __typename }"), 1);
    }

    #[test]
    fn connections_cost_their_edges_per_item_of_the_page() {
        // products 1 + edges (1 + 10 × (node 1 + name 1)): a full page costs what it requested.
        let q = "{ products(first: 10) { edges { node { name } } } }";
        assert_eq!(cost(q), 22);
        let q = "query($n: Int) { products(last: $n) { edges { node { name } } } }";
        assert_eq!(measure(q, serde_json::json!({ "n": 3 })).cost, 8);
        let q = "query($n: Int = 2) { products(first: $n) { edges { node { name } } } }";
        assert_eq!(measure(q, serde_json::json!({})).cost, 6);
        let q = "{ products { edges { node { name } } } }";
        assert_eq!(cost(q), 42, "default page size");
        let q = "{ products(first: 100000) { edges { node { name } } } }";
        assert_eq!(cost(q), 202, "capped page size");
        // pageInfo comes back once, however long the page; an empty page still has it.
        let q = "{ products(first: 0) { edges { cursor } pageInfo { hasNextPage } } }";
        assert_eq!(cost(q), 4);
        let q = "{ products(first: 5) { edges { cursor } pageInfo { hasNextPage } } }";
        assert_eq!(cost(q), 1 + (1 + 5) + 2);
    }

    #[test]
    fn bounded_lists_cost_their_selection_per_item_they_can_hold() {
        // Without `first`: the bound (LIST_BOUNDS applies to this schema's fields too).
        let q = "{ products(first: 1) { edges { node { variants(first: 1) { selectedOptions { name } } } } } }";
        assert_eq!(cost(q), 1 + 1 + (1 + 1 + (1 + 3)));
        // With `first`: the argument, its default, never above the bound.
        assert_eq!(cost("{ categories { name } }"), 1 + 50);
        assert_eq!(cost("{ categories(first: 4) { name } }"), 1 + 4);
        assert_eq!(
            cost("{ categories(first: 500) { name } }"),
            1 + 50,
            "capped at the bound"
        );
        assert_eq!(
            cost("{ reviewsToModerate { body } }"),
            6,
            "the argument's own default"
        );
        let q = "{ products(first: 2) { edges { node { variants(first: 3) { sku } } } } }";
        assert_eq!(cost(q), 1 + 1 + 2 * (1 + (1 + 3)));
        let q = "mutation { act { userErrors { field message } } }";
        assert_eq!(
            cost(q),
            1 + 1 + 10 * 2,
            "userErrors of any payload: at most 10"
        );
    }

    #[test]
    fn nested_lists_multiply() {
        let q = "{ categories(first: 3) { products(first: 2) { edges { node { name } } } } }";
        assert_eq!(
            measure(q, serde_json::json!({})),
            Measure {
                depth: 5,
                cost: 1 + 3 * (1 + 1 + 2 * 2)
            }
        );
    }

    #[test]
    fn lists_without_a_bound_cannot_be_priced() {
        assert_eq!(cost("{ unbounded { body } }"), UNPRICEABLE);
        assert_eq!(
            cost("{ tags unbounded { body } }"),
            UNPRICEABLE,
            "whatever else is asked"
        );
        let model = CostModel::from_sdl(SDL).unwrap();
        assert_eq!(unbounded_lists(&model), ["Query.unbounded"]);
    }

    #[test]
    fn nodes_cost_per_id_and_fragments_count_where_spread() {
        let q =
            "query($ids: [ID!]!) { nodes(ids: $ids) { ...P } } fragment P on Product { id name }";
        let m = measure(q, serde_json::json!({ "ids": ["a", "b", "c"] }));
        assert_eq!(
            m,
            Measure {
                depth: 2,
                cost: 1 + 3 * 2
            }
        );
        let q = "{ nodes(ids: [\"a\"]) { ... on Product { products: name } } }";
        assert_eq!(cost(q), 2);
        // A fragment on a connection is priced with the page it is spread in.
        let q = "{ a: products(first: 1) { ...C } b: products(first: 3) { ...C } }
                 fragment C on ProductConnection { edges { cursor } }";
        assert_eq!(cost(q), (1 + 1 + 1) + (1 + 1 + 3));
    }

    #[test]
    fn introspection_costs_nothing() {
        assert_eq!(cost("{ __schema { types { name fields { name } } } }"), 0);
        assert_eq!(cost("{ __typename __type(name: \"Query\") { name } }"), 1);
    }

    fn unbounded_lists(model: &CostModel) -> Vec<String> {
        let mut found: Vec<String> = model
            .fields
            .iter()
            .flat_map(|(ty, fields)| {
                fields
                    .iter()
                    .filter(|(_, rule)| rule.sizing == Sizing::Unbounded)
                    .map(move |(field, _)| format!("{ty}.{field}"))
            })
            .collect();
        found.sort();
        found
    }

    fn real_model() -> CostModel {
        CostModel::from_sdl(&crate::graphql::sdl()).expect("the schema's SDL parses")
    }

    #[test]
    fn every_list_field_of_the_schema_has_a_bound() {
        assert_eq!(
            unbounded_lists(&real_model()),
            Vec::<String>::new(),
            "give these lists a bound in LIST_BOUNDS (see the module documentation)"
        );
    }

    #[test]
    fn every_bound_names_a_list_field_of_the_schema() {
        let model = real_model();
        for (ty, field, _) in LIST_BOUNDS {
            let found = model.fields.iter().any(|(owner, fields)| {
                (*ty == "*" || owner == ty)
                    && fields
                        .get(*field)
                        .is_some_and(|rule| matches!(rule.sizing, Sizing::List { .. }))
            });
            assert!(
                found,
                "{ty}.{field} is in LIST_BOUNDS but is no bounded list"
            );
        }
    }

    /// What clients read must agree with what the model prices: a list without `first` says
    /// "At most N." and a `first` argument names its maximum and its default.
    #[test]
    fn descriptions_state_each_bound() {
        let document = async_graphql::parser::parse_schema(crate::graphql::sdl()).unwrap();
        let model = real_model();
        let mut checked = 0;
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let TypeKind::Object(object) = &ty.node.kind else {
                continue;
            };
            let owner = ty.node.name.node.as_str();
            for field in &object.fields {
                let field = &field.node;
                let name = field.name.node.as_str();
                let Some(Sizing::List { most, default }) = model
                    .fields
                    .get(owner)
                    .and_then(|fields| fields.get(name))
                    .map(|rule| rule.sizing)
                else {
                    continue;
                };
                // Doc comments wrap lines anywhere.
                let flat = |text: Option<&str>| {
                    text.unwrap_or("")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let description = flat(field.description.as_ref().map(|d| d.node.as_str()));
                match default {
                    None => assert!(
                        description.contains(&format!("At most {most}")),
                        "{owner}.{name} should say \"At most {most}\": {description:?}"
                    ),
                    Some(default) => {
                        let first = flat(
                            field
                                .arguments
                                .iter()
                                .find(|a| a.node.name.node == "first")
                                .and_then(|a| a.node.description.as_ref())
                                .map(|d| d.node.as_str()),
                        );
                        assert!(
                            first.contains(&format!("to {most}"))
                                && first.contains(&format!("default {default}")),
                            "{owner}.{name}(first:) should name its maximum {most} and its \
                             default {default}: {first:?}"
                        );
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= LIST_BOUNDS.len(), "only {checked} lists checked");
    }

    /// Lists whose maximum the domain enforces cut nothing by default: `first` defaults to it.
    #[test]
    fn bounded_lists_return_everything_by_default() {
        let model = real_model();
        for (ty, field, most) in LIST_BOUNDS {
            if *ty == "*" || *field == "reviewsToModerate" {
                continue;
            }
            let Some(Sizing::List { default, .. }) =
                model.fields[*ty].get(*field).map(|rule| rule.sizing)
            else {
                panic!("{ty}.{field} is no bounded list");
            };
            if let Some(default) = default {
                assert_eq!(
                    default, *most,
                    "{ty}.{field}(first:) defaults to its maximum"
                );
            }
        }
    }
}
