//! Hostile values for every argument of the schema, generated from the schema the server serves
//! (introspection), not listed by hand. Every argument of every root field and of every nested
//! field (reached through argument-free fields), down into input objects and lists, gets in
//! turn control characters, huge, empty and odd strings, out-of-range numbers, malformed,
//! foreign and unknown ids, unknown enum values, bad decimals and timestamps, forged cursors (a
//! real one decoded, altered and encoded again) and oversized lists, as a variable and as a
//! literal, from an anonymous caller and from an admin; every other argument and input field
//! holds a plausible value (real ids of the shop). No answer may be a 5xx, an
//! `INTERNAL_SERVER_ERROR`, an error without a code or a message longer than 1,000 characters;
//! what must be refused is, and what must be taken is (see [`Expect`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app_with};

/// Longest error message (top-level or user error) an answer may hold, in characters.
const MAX_MESSAGE_CHARS: usize = 1_000;

/// Requests in flight at once.
const CONCURRENCY: usize = 8;

const INTROSPECTION: &str = "query {
  __schema {
    queryType { name }
    mutationType { name }
    types {
      kind name
      fields(includeDeprecated: true) { name args { name defaultValue type { ...T } } type { ...T } }
      inputFields { name defaultValue type { ...T } }
      enumValues(includeDeprecated: true) { name }
    }
  }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

// ---------------------------------------------------------------------------------------------
// The schema, as introspection tells it.

#[derive(Debug, Clone)]
enum Ty {
    Named(String),
    List(Box<Ty>),
    NonNull(Box<Ty>),
}

impl Ty {
    fn parse(value: &Value) -> Self {
        match value["kind"].as_str() {
            Some("NON_NULL") => Self::NonNull(Box::new(Self::parse(&value["ofType"]))),
            Some("LIST") => Self::List(Box::new(Self::parse(&value["ofType"]))),
            _ => Self::Named(value["name"].as_str().expect("a type name").to_owned()),
        }
    }

    fn named(&self) -> &str {
        match self {
            Self::Named(name) => name,
            Self::List(inner) | Self::NonNull(inner) => inner.named(),
        }
    }

    /// The type as a variable definition spells it.
    fn render(&self) -> String {
        match self {
            Self::Named(name) => name.clone(),
            Self::List(inner) => format!("[{}]", inner.render()),
            Self::NonNull(inner) => format!("{}!", inner.render()),
        }
    }
}

#[derive(Debug, Clone)]
struct InputDef {
    name: String,
    ty: Ty,
    has_default: bool,
}

impl InputDef {
    fn parse(value: &Value) -> Self {
        Self {
            name: value["name"].as_str().expect("a name").to_owned(),
            ty: Ty::parse(&value["type"]),
            has_default: !value["defaultValue"].is_null(),
        }
    }

    fn required(&self) -> bool {
        matches!(self.ty, Ty::NonNull(_)) && !self.has_default
    }
}

#[derive(Debug, Clone)]
struct FieldDef {
    name: String,
    args: Vec<InputDef>,
    ty: Ty,
}

#[derive(Debug)]
struct TypeDef {
    kind: String,
    fields: Vec<FieldDef>,
    input_fields: Vec<InputDef>,
    enum_values: Vec<String>,
}

struct Schema {
    types: HashMap<String, TypeDef>,
    query: String,
    mutation: String,
}

impl Schema {
    fn parse(data: &Value) -> Self {
        let schema = &data["__schema"];
        let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
        let types = list(&schema["types"])
            .iter()
            .map(|ty| {
                let fields = list(&ty["fields"])
                    .iter()
                    .map(|field| FieldDef {
                        name: field["name"].as_str().expect("a name").to_owned(),
                        args: list(&field["args"]).iter().map(InputDef::parse).collect(),
                        ty: Ty::parse(&field["type"]),
                    })
                    .collect();
                let definition = TypeDef {
                    kind: ty["kind"].as_str().expect("a kind").to_owned(),
                    fields,
                    input_fields: list(&ty["inputFields"])
                        .iter()
                        .map(InputDef::parse)
                        .collect(),
                    enum_values: list(&ty["enumValues"])
                        .iter()
                        .map(|value| value["name"].as_str().expect("a name").to_owned())
                        .collect(),
                };
                (ty["name"].as_str().expect("a name").to_owned(), definition)
            })
            .collect();
        Self {
            types,
            query: schema["queryType"]["name"]
                .as_str()
                .expect("Query")
                .to_owned(),
            mutation: schema["mutationType"]["name"]
                .as_str()
                .expect("Mutation")
                .to_owned(),
        }
    }

    fn kind(&self, ty: &Ty) -> &str {
        &self.types[ty.named()].kind
    }

    /// The selection for a field of type `ty`: `__typename` and every scalar field without
    /// required arguments, `depth` levels down (nothing for a scalar).
    fn selection(&self, ty: &Ty, depth: u32) -> String {
        let definition = &self.types[ty.named()];
        match definition.kind.as_str() {
            "OBJECT" | "INTERFACE" => {
                let mut parts = vec!["__typename".to_owned()];
                for field in &definition.fields {
                    if field.name.starts_with("__") || field.args.iter().any(InputDef::required) {
                        continue;
                    }
                    match self.kind(&field.ty) {
                        "SCALAR" | "ENUM" => parts.push(field.name.clone()),
                        "OBJECT" | "INTERFACE" | "UNION" if depth > 1 => {
                            let name = field.ty.named();
                            if name != self.query && name != self.mutation {
                                parts.push(format!(
                                    "{} {}",
                                    field.name,
                                    self.selection(&field.ty, depth - 1)
                                ));
                            }
                        }
                        _ => {}
                    }
                }
                format!("{{ {} }}", parts.join(" "))
            }
            "UNION" => "{ __typename }".to_owned(),
            _ => String::new(),
        }
    }

    /// Every field with arguments and how to reach it: the root fields of both operations, and
    /// fields of other types by the shortest path of argument-free fields from the query root.
    fn sites(&self) -> Vec<Site> {
        let mut sites = Vec::new();
        for (operation, root) in [("query", &self.query), ("mutation", &self.mutation)] {
            for field in &self.types[root].fields {
                if !field.args.is_empty() {
                    sites.push(Site {
                        operation,
                        owner: root.clone(),
                        path: Vec::new(),
                        field: field.clone(),
                    });
                }
            }
        }
        let mut seen = HashSet::from([self.query.clone(), self.mutation.clone()]);
        let mut queue = VecDeque::from([(self.query.clone(), Vec::<String>::new())]);
        while let Some((name, path)) = queue.pop_front() {
            for field in &self.types[&name].fields {
                if field.name.starts_with("__") {
                    continue;
                }
                // The roots' own fields are listed above.
                if !path.is_empty() && !field.args.is_empty() {
                    sites.push(Site {
                        operation: "query",
                        owner: name.clone(),
                        path: path.clone(),
                        field: field.clone(),
                    });
                }
                let target = field.ty.named().to_owned();
                // A look-up (`product(id:, slug:)`) answers nothing without its key, however
                // optional its arguments: paths go through lists and plain fields only.
                let look_up = field
                    .args
                    .iter()
                    .any(|arg| matches!(arg.name.as_str(), "id" | "slug" | "token" | "ids"));
                if self.kind(&field.ty) == "OBJECT"
                    && !field.args.iter().any(InputDef::required)
                    && !look_up
                    && seen.insert(target.clone())
                {
                    let mut deeper = path.clone();
                    deeper.push(field.name.clone());
                    queue.push_back((target, deeper));
                }
            }
        }
        sites
    }
}

/// A field with arguments, and the argument-free fields leading to it from its operation's root.
struct Site {
    operation: &'static str,
    owner: String,
    path: Vec<String>,
    field: FieldDef,
}

// ---------------------------------------------------------------------------------------------
// Values: valid ones made from a type, and hostile ones.

/// An argument value, as a variable (JSON) and as a literal.
#[derive(Debug, Clone)]
enum Val {
    /// A scalar: the JSON value, and the literal that spells it.
    Json(Value),
    /// An enum value (a bare name as a literal).
    Enum(String),
    List(Vec<Val>),
    Object(Vec<(String, Val)>),
    /// A hostile leaf; one of the two forms may be missing (a literal JSON cannot carry, say).
    Hostile {
        json: Option<Value>,
        literal: Option<String>,
    },
}

impl Val {
    fn json(&self) -> Option<Value> {
        Some(match self {
            Self::Json(value) => value.clone(),
            Self::Enum(name) => Value::String(name.clone()),
            Self::List(items) => Value::Array(items.iter().map(Self::json).collect::<Option<_>>()?),
            Self::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(name, value)| Some((name.clone(), value.json()?)))
                    .collect::<Option<_>>()?,
            ),
            Self::Hostile { json, .. } => json.clone()?,
        })
    }

    fn literal(&self) -> Option<String> {
        Some(match self {
            Self::Json(value) => literal_of(value),
            Self::Enum(name) => name.clone(),
            Self::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(Self::literal)
                    .collect::<Option<Vec<_>>>()?
                    .join(", ")
            ),
            Self::Object(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(name, value)| Some(format!("{name}: {}", value.literal()?)))
                    .collect::<Option<Vec<_>>>()?
                    .join(", ")
            ),
            Self::Hostile { literal, .. } => literal.clone()?,
        })
    }
}

/// The GraphQL literal of a JSON value (strings quoted and escaped).
fn literal_of(value: &Value) -> String {
    match value {
        Value::String(text) => {
            let mut quoted = String::with_capacity(text.len() + 2);
            quoted.push('"');
            for c in text.chars() {
                match c {
                    '"' => quoted.push_str("\\\""),
                    '\\' => quoted.push_str("\\\\"),
                    c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", c as u32)),
                    c => quoted.push(c),
                }
            }
            quoted.push('"');
            quoted
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(literal_of).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(name, value)| format!("{name}: {}", literal_of(value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// What the answer to a hostile value must be, beyond never an internal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Anything but an internal error.
    Anything,
    /// `BAD_USER_INPUT` (or a 4xx) for every caller: the value breaks the rule every string
    /// obeys, checked before anything runs.
    RefusedUpfront,
    /// An error or a user error: the value is never taken silently.
    Refused,
    /// `BAD_USER_INPUT` for the admin (`first: -1`, on every list alike); an error for anyone.
    BadInput,
    /// No `BAD_USER_INPUT` for the admin (`first: 0` is a page like any other).
    Accepted,
}

/// A hostile value for one position.
struct Hostile {
    label: String,
    json: Option<Value>,
    literal: Option<String>,
    /// What the answer must be, beyond never an internal error.
    expect: Expect,
    /// Other arguments it goes with, as literals (a forged cursor and the sort order of the real
    /// one it was made from).
    with: Option<String>,
}

impl Hostile {
    /// The same value as a variable and as a literal.
    fn both(label: &str, json: Value) -> Self {
        Self {
            label: label.to_owned(),
            literal: Some(literal_of(&json)),
            json: Some(json),
            expect: Expect::Anything,
            with: None,
        }
    }

    fn literal(label: &str, literal: &str) -> Self {
        Self {
            label: label.to_owned(),
            json: None,
            literal: Some(literal.to_owned()),
            expect: Expect::Anything,
            with: None,
        }
    }

    fn variable(label: &str, json: Value) -> Self {
        Self {
            label: label.to_owned(),
            json: Some(json),
            literal: None,
            expect: Expect::Anything,
            with: None,
        }
    }

    /// It breaks the rule every string obeys.
    fn refused_upfront(mut self) -> Self {
        self.expect = Expect::RefusedUpfront;
        self
    }

    fn refused(mut self) -> Self {
        self.expect = Expect::Refused;
        self
    }

    fn accepted(mut self) -> Self {
        self.expect = Expect::Accepted;
        self
    }
}

fn string_hostiles() -> Vec<Hostile> {
    vec![
        Hostile::both("a NUL", json!("bad\u{0}value")).refused_upfront(),
        Hostile::both("control characters", json!("\u{1b}[2J\u{7}\u{7f}\u{85}x")).refused_upfront(),
        Hostile::both("200,000 characters", json!("h".repeat(200_000))).refused_upfront(),
        // Under the limit of every string, over the largest of a field's own (10,000).
        Hostile::both("20,000 characters", json!("h".repeat(20_000))),
        Hostile::both("an empty string", json!("")),
        Hostile::both("blanks", json!(" \t \n")),
        Hostile::both("an RTL override", json!("\u{202e}gnp.exe")),
        Hostile::both("a lone combining mark", json!("\u{301}")),
        Hostile::both("4-byte emoji", json!("😀🏳️‍🌈")),
        Hostile::both("SQL and LIKE metacharacters", json!("%_\\' OR 1=1; --")),
    ]
}

fn hostiles(
    schema: &Schema,
    name: &str,
    at: At<'_>,
    argument: &str,
    fixtures: &Fixtures,
) -> Vec<Hostile> {
    let expected_id = fixtures.id_kind(at.field, argument);
    let definition = &schema.types[name];
    if definition.kind == "ENUM" {
        let first = definition.enum_values.first().cloned().unwrap_or_default();
        return vec![
            Hostile::both("an unknown value", json!("NOT_A_VALUE")).refused(),
            Hostile::both("a lower-case value", json!(first.to_lowercase())).refused(),
            Hostile::literal("a quoted value", &format!("\"{first}\"")),
            Hostile::variable("a NUL", json!("A\u{0}")).refused_upfront(),
            Hostile::variable("200,000 characters", json!("A".repeat(200_000))).refused_upfront(),
        ];
    }
    match name {
        "Int" => {
            // A page size (`first`, `last`) is checked alike on every list: 0 to 100.
            let page_size = matches!(argument, "first" | "last");
            let out_of_range = |mut hostile: Hostile| {
                if page_size {
                    hostile.expect = Expect::BadInput;
                }
                hostile
            };
            let zero = Hostile::both("0", json!(0));
            vec![
                out_of_range(Hostile::both("-1", json!(-1))),
                if page_size { zero.accepted() } else { zero },
                out_of_range(Hostile::both("i32::MAX", json!(i32::MAX))),
                out_of_range(Hostile::both("i32::MIN", json!(i32::MIN))),
                Hostile::both("10^12", json!(1_000_000_000_000_i64)).refused(),
                Hostile::literal("10^23", "100000000000000000000000").refused(),
                Hostile::both("a float", json!(1.5)).refused(),
            ]
        }
        "Float" => vec![
            Hostile::both("-1", json!(-1.0)),
            Hostile::both("0", json!(0.0)),
            Hostile::both("1e308", json!(1e308)),
            Hostile::both("-1e308", json!(-1e308)),
            Hostile::literal("1e400", "1e400"),
        ],
        "Boolean" => vec![Hostile::both("a string", json!("true")).refused()],
        "ID" => {
            let foreign = fixtures.foreign_id(expected_id);
            let mut values = string_hostiles();
            values.extend([
                Hostile::both("not a global id", json!("not-a-gid")).refused(),
                Hostile::both(
                    "a non-numeric id",
                    json!(format!("gid://bazaar/{expected_id}/abc")),
                ),
                Hostile::both(
                    "a negative id",
                    json!(format!("gid://bazaar/{expected_id}/-1")),
                ),
                Hostile::both("id 0", json!(format!("gid://bazaar/{expected_id}/0"))),
                Hostile::both(
                    "i64::MAX",
                    json!(format!("gid://bazaar/{expected_id}/{}", i64::MAX)),
                ),
                Hostile::both(
                    "an id beyond i64",
                    json!(format!(
                        "gid://bazaar/{expected_id}/99999999999999999999999"
                    )),
                ),
                Hostile::both("an unknown kind", json!("gid://bazaar/Nope/1")).refused(),
                Hostile::both(
                    "a trailing segment",
                    json!(format!("gid://bazaar/{expected_id}/1/2")),
                ),
                Hostile::both("a foreign id", json!(foreign)),
                Hostile::both(
                    "an unknown id",
                    json!(format!("gid://bazaar/{expected_id}/999999999")),
                ),
                Hostile::both("an integer", json!(1)),
            ]);
            values
        }
        "Decimal" => {
            // Never a number.
            let mut values: Vec<Hostile> = [
                "abc",
                "",
                "NaN",
                "Infinity",
                "1e400",
                "99999999999999999999999999999.99",
                "1,5",
            ]
            .into_iter()
            .map(|text| Hostile::both(&format!("{text:?}"), json!(text)).refused())
            .collect();
            values.extend(
                [
                    "-1",
                    "0",
                    "-0",
                    "1e-400",
                    "0.0000000001",
                    " 1 ",
                    "+1",
                    "1e2",
                    ".5",
                    "5.",
                    "１",
                ]
                .into_iter()
                .map(|text| Hostile::both(&format!("{text:?}"), json!(text))),
            );
            values.extend([
                Hostile::both("the number 1.5", json!(1.5)),
                Hostile::both("the number 1e300", json!(1e300)),
                Hostile::both("the number -1", json!(-1)),
                Hostile::both("a NUL", json!("1\u{0}")).refused_upfront(),
                Hostile::both("200,000 digits", json!("9".repeat(200_000))).refused_upfront(),
            ]);
            values
        }
        "DateTime" => {
            // Neither an RFC 3339 timestamp nor one with a four-digit year.
            let mut values: Vec<Hostile> = [
                "not a date",
                "",
                "2024-13-45T99:99:99Z",
                "0000-12-31T00:00:00Z",
                "-0001-01-01T00:00:00Z",
                "+10000-01-01T00:00:00Z",
                "+275760-09-13T00:00:00Z",
                "-200000-01-01T00:00:00Z",
                "+200000-01-01T00:00:00Z",
                "2024-02-30T00:00:00Z",
                "2024-01-01T00:00:00+25:00",
                "2024-01-01",
            ]
            .into_iter()
            .map(|text| Hostile::both(&format!("{text:?}"), json!(text)).refused())
            .collect();
            values.extend([
                Hostile::both("\"9999-12-31T23:59:59Z\"", json!("9999-12-31T23:59:59Z")),
                Hostile::both("\"0001-01-01T00:00:00Z\"", json!("0001-01-01T00:00:00Z")),
                Hostile::both("a number", json!(0)).refused(),
                Hostile::both("a NUL", json!("2024-01-01T00:00:00Z\u{0}")).refused_upfront(),
            ]);
            values
        }
        _ => {
            let mut values = string_hostiles();
            values.push(Hostile::both("a number", json!(-1)));
            if matches!(argument, "after" | "before") {
                values.extend(forged_cursors(None));
                let key = format!("{}.{}", at.owner, at.field);
                for (with, real) in fixtures.cursors.get(&key).into_iter().flatten() {
                    for mut forged in forged_cursors(Some(real)) {
                        if !with.is_empty() {
                            forged.label = format!("{} with {with}", forged.label);
                            forged.with = Some(with.clone());
                        }
                        values.push(forged);
                    }
                }
            }
            values
        }
    }
}

/// Decodes a cursor as a client can: URL-safe base64 of JSON.
fn decode_cursor(cursor: &str) -> Option<Value> {
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// Cursors a client could forge: a real one decoded, each of its leaves replaced by something
/// hostile, and encoded again; without a real one, a few shapes.
fn forged_cursors(real: Option<&str>) -> Vec<Hostile> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut shapes = Vec::new();
    if real.is_none() {
        shapes.extend([
            ("null".to_owned(), Value::Null),
            ("[]".to_owned(), json!([])),
            ("{}".to_owned(), json!({})),
            ("a string".to_owned(), json!("x")),
            ("i64::MAX".to_owned(), json!(i64::MAX)),
        ]);
    }
    if let Some(decoded) = real.and_then(decode_cursor) {
        shapes.push((
            "the real one in a list".to_owned(),
            json!([decoded.clone()]),
        ));
        let strings = [
            ("a NUL", json!("bad\u{0}")),
            ("40,000 characters", json!("h".repeat(40_000))),
            ("year -200000", json!("-200000-01-01T00:00:00")),
            ("year 200000", json!("+200000-01-01T00:00:00")),
            ("a bad date", json!("2024-02-30T00:00:00")),
        ];
        let numbers = [
            ("i64::MAX", json!(i64::MAX)),
            ("i64::MIN", json!(i64::MIN)),
            ("1e300", json!(1e300)),
            ("1.5", json!(1.5)),
            ("a string", json!("1")),
        ];
        let mut leaves = Vec::new();
        leaf_paths(&decoded, &mut Vec::new(), &mut leaves);
        for (path, leaf) in leaves {
            let replacements: &[(&str, Value)] = match leaf {
                Value::String(_) => &strings,
                Value::Number(_) => &numbers,
                _ => &[],
            };
            for (label, replacement) in replacements.iter().chain([("null", Value::Null)].iter()) {
                let mut forged = decoded.clone();
                *pointer(&mut forged, &path) = replacement.clone();
                let place = if path.is_empty() {
                    "the whole".to_owned()
                } else {
                    path.join("/")
                };
                shapes.push((format!("{label} at {place}"), forged));
            }
        }
    }
    shapes
        .into_iter()
        .map(|(label, value)| {
            Hostile::both(
                &format!("a forged cursor ({label})"),
                json!(URL_SAFE_NO_PAD.encode(value.to_string())),
            )
        })
        .collect()
}

/// The path and value of every scalar of a JSON value.
fn leaf_paths(value: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                leaf_paths(item, path, out);
                path.pop();
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields {
                path.push(name.clone());
                leaf_paths(item, path, out);
                path.pop();
            }
        }
        leaf => out.push((path.clone(), leaf.clone())),
    }
}

fn pointer<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(value, |value, step| match value {
        Value::Array(items) => &mut items[step.parse::<usize>().expect("an index")],
        Value::Object(fields) => fields.get_mut(step).expect("a field"),
        _ => unreachable!("a leaf has no children"),
    })
}

/// Where a value goes: the field it is an argument of, in which operation.
#[derive(Clone, Copy)]
struct At<'a> {
    owner: &'a str,
    field: &'a str,
    mutation: bool,
}

/// Replaced by a number of its own in every request, so that values that must be unique (a new
/// product's slug, a new account's email) are.
const UNIQUE: &str = "@@N@@";

/// Real values from the seeded shop, and a plausible value for any position.
struct Fixtures {
    /// Global ids of each kind, by type name: one to read and refer to, and a scratch one for the
    /// mutations that change that kind (`productUpdate(id:)`), so that they leave the first alone.
    ids: Vec<(&'static str, String, String)>,
    product_slug: String,
    category_slug: String,
    collection_slug: String,
    discount_code: String,
    order_token: String,
    /// The key the fixture order was placed with: a checkout sending it again with another cart
    /// is refused (the key is taken) after its input was checked, so the cart is never used up.
    idempotency_key: String,
    /// Real cursors of each connection, by `Owner.field`, with the arguments they were read
    /// with (see [`real_cursors`]).
    cursors: HashMap<String, Vec<(String, String)>>,
}

impl Fixtures {
    /// The kind an id position names: the kind named last in the argument's name (`variantIds`),
    /// else in the field's name (`productImageRemove(id)` → `Image`; a plural at its end names
    /// what another argument lists: `collectionAddProducts(id)` → `Collection`), else `Product`.
    fn id_kind(&self, field: &str, name: &str) -> &'static str {
        let named_last = |text: &str| {
            let text = text.to_lowercase();
            self.ids
                .iter()
                .filter_map(|(kind, _, _)| {
                    text.rfind(&kind.to_lowercase())
                        .map(|at| (at, kind.len(), *kind))
                })
                .max()
                .map(|(_, _, kind)| kind)
        };
        let listed = self
            .ids
            .iter()
            .map(|(kind, _, _)| format!("{kind}s"))
            .find(|plural| field.ends_with(plural.as_str()));
        let field = match &listed {
            Some(plural) => &field[..field.len() - plural.len()],
            None => field,
        };
        named_last(name)
            .or_else(|| named_last(field))
            .unwrap_or("Product")
    }

    /// A real id for an id position: the scratch one when a mutation's name starts with its
    /// kind (`variantUpdate(id:)`, `cartLinesAdd(cartId:)`).
    fn id(&self, at: At<'_>, name: &str) -> String {
        let kind = self.id_kind(at.field, name);
        let scratch = at.mutation && at.field.to_lowercase().starts_with(&kind.to_lowercase());
        self.ids
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map(|(_, main, spare)| if scratch { spare.clone() } else { main.clone() })
            .expect("a fixture of each kind")
    }

    /// A real id of another kind than `kind`.
    fn foreign_id(&self, kind: &str) -> String {
        let other = if kind == "Category" {
            "Product"
        } else {
            "Category"
        };
        self.ids
            .iter()
            .find(|(k, _, _)| *k == other)
            .map(|(_, main, _)| main.clone())
            .expect("a fixture of each kind")
    }

    /// A plausible value of `ty`; input objects get every field.
    fn valid(&self, schema: &Schema, ty: &Ty, at: At<'_>, name: &str) -> Val {
        match ty {
            Ty::NonNull(inner) => self.valid(schema, inner, at, name),
            Ty::List(inner) => Val::List(vec![self.valid(schema, inner, at, name)]),
            Ty::Named(type_name) => {
                let definition = &schema.types[type_name];
                match definition.kind.as_str() {
                    "ENUM" => Val::Enum(definition.enum_values[0].clone()),
                    "INPUT_OBJECT" => Val::Object(
                        definition
                            .input_fields
                            .iter()
                            .filter(|input| input.ty.named() != type_name)
                            .map(|input| {
                                let value = self.valid(schema, &input.ty, at, &input.name);
                                (input.name.clone(), value)
                            })
                            .collect(),
                    ),
                    _ => Val::Json(self.scalar(type_name, at, name)),
                }
            }
        }
    }

    fn scalar(&self, type_name: &str, at: At<'_>, name: &str) -> Value {
        let lower = name.to_lowercase();
        let field = at.field.to_lowercase();
        match type_name {
            "ID" => json!(self.id(at, name)),
            "Int" => json!(match lower.as_str() {
                "rating" => 5,
                "first" | "last" => 5,
                "position" => 0,
                _ => 1,
            }),
            "Float" => json!(1.0),
            "Boolean" => json!(false),
            "Decimal" => json!("10"),
            "DateTime" if lower.contains("start") => json!("2020-01-01T00:00:00Z"),
            "DateTime" => json!("2030-01-01T00:00:00Z"),
            _ if lower.contains("email") => json!(format!("hostile-{UNIQUE}@example.com")),
            _ if lower.contains("password") => json!(PASSWORD),
            _ if lower == "countrycode" => json!("US"),
            _ if lower == "currencycode" => json!("USD"),
            _ if lower.contains("slug") && at.mutation => json!(format!("hostile-{UNIQUE}")),
            _ if lower.contains("slug") => {
                if lower.contains("category") || field.contains("category") {
                    json!(self.category_slug)
                } else if lower.contains("collection") || field.contains("collection") {
                    json!(self.collection_slug)
                } else {
                    json!(self.product_slug)
                }
            }
            _ if lower == "code" && field.ends_with("create") => json!(format!("HOSTILE{UNIQUE}")),
            _ if lower == "code" => json!(self.discount_code),
            _ if lower == "sku" => json!(format!("HOSTILE-{UNIQUE}")),
            _ if lower == "paymenttoken" => json!("tok_success"),
            _ if lower.contains("token") => json!(self.order_token),
            _ if lower.contains("idempotency") => json!(self.idempotency_key),
            _ if lower.contains("url") => json!("https://img.example/hostile.jpg"),
            _ => json!("Hostile test"),
        }
    }

    /// Every value of `ty` with one hostile position: (path, what is hostile there, the value).
    fn variants(
        &self,
        schema: &Schema,
        ty: &Ty,
        at: At<'_>,
        name: &str,
        inside: &mut Vec<String>,
    ) -> Vec<(String, Hostile, Val)> {
        match ty {
            Ty::NonNull(inner) => self.variants(schema, inner, at, name, inside),
            Ty::List(inner) => {
                let mut out: Vec<_> = self
                    .variants(schema, inner, at, name, inside)
                    .into_iter()
                    .map(|(path, hostile, value)| {
                        (format!("[0]{path}"), hostile, Val::List(vec![value]))
                    })
                    .collect();
                let one = self.valid(schema, inner, at, name);
                let thousand = Val::List(vec![one; 1_000]);
                out.push((
                    String::new(),
                    Hostile {
                        label: "1,000 items".to_owned(),
                        json: thousand.json(),
                        literal: thousand.literal(),
                        expect: Expect::Refused,
                        with: None,
                    },
                    thousand,
                ));
                out.push((
                    String::new(),
                    Hostile::both("an empty list", json!([])),
                    Val::List(vec![]),
                ));
                out
            }
            Ty::Named(type_name) => {
                let definition = &schema.types[type_name];
                if definition.kind != "INPUT_OBJECT" {
                    return hostiles(schema, type_name, at, name, self)
                        .into_iter()
                        .map(|hostile| {
                            let value = Val::Hostile {
                                json: hostile.json.clone(),
                                literal: hostile.literal.clone(),
                            };
                            (String::new(), hostile, value)
                        })
                        .collect();
                }
                if inside.contains(type_name) {
                    return Vec::new();
                }
                inside.push(type_name.clone());
                let mut out = vec![(
                    String::new(),
                    Hostile::both("an empty object", json!({})),
                    Val::Object(Vec::new()),
                )];
                for target in &definition.input_fields {
                    for (path, hostile, value) in
                        self.variants(schema, &target.ty, at, &target.name, inside)
                    {
                        let fields = definition
                            .input_fields
                            .iter()
                            .filter(|input| input.ty.named() != type_name)
                            .map(|input| {
                                let value = if input.name == target.name {
                                    value.clone()
                                } else {
                                    self.valid(schema, &input.ty, at, &input.name)
                                };
                                (input.name.clone(), value)
                            })
                            .collect();
                        out.push((
                            format!(".{}{path}", target.name),
                            hostile,
                            Val::Object(fields),
                        ));
                    }
                }
                inside.pop();
                out
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cases.

struct Case {
    /// `Mutation.cartLinesAdd(lines[0].variantId) = a NUL, as a variable`.
    label: String,
    query: String,
    variables: Value,
    expect: Expect,
}

fn cases(schema: &Schema, fixtures: &Fixtures) -> (Vec<Case>, usize, usize) {
    let mut cases = Vec::new();
    let (mut fields, mut arguments) = (0, 0);
    for site in schema.sites() {
        fields += 1;
        let field = &site.field;
        let selection = schema.selection(&field.ty, 2);
        let open: String = site.path.iter().map(|name| format!("{name} {{ ")).collect();
        let close = " }".repeat(site.path.len());
        let at = At {
            owner: &site.owner,
            field: &field.name,
            mutation: site.operation == "mutation",
        };
        for argument in &field.args {
            arguments += 1;
            let others: Vec<String> = field
                .args
                .iter()
                .filter(|other| other.name != argument.name && other.required())
                .map(|other| {
                    let value = fixtures.valid(schema, &other.ty, at, &other.name);
                    format!("{}: {}", other.name, value.literal().expect("a literal"))
                })
                .collect();
            let call = |value: &str, with: &Option<String>| {
                let mut all = others.clone();
                all.extend(with.clone());
                all.push(format!("{}: {value}", argument.name));
                format!(
                    "{open}{}({}) {selection}{close}",
                    field.name,
                    all.join(", ")
                )
            };
            let variants =
                fixtures.variants(schema, &argument.ty, at, &argument.name, &mut Vec::new());
            for (path, hostile, value) in variants {
                let at = format!("{}.{}({}{path})", site.owner, field.name, argument.name);
                if let Some(json) = value.json() {
                    cases.push(Case {
                        label: format!("{at} = {}, as a variable", hostile.label),
                        query: format!(
                            "{}($v: {}) {{ {} }}",
                            site.operation,
                            argument.ty.render(),
                            call("$v", &hostile.with)
                        ),
                        variables: json!({ "v": json }),
                        expect: hostile.expect,
                    });
                }
                if let Some(literal) = value.literal() {
                    cases.push(Case {
                        label: format!("{at} = {}, as a literal", hostile.label),
                        query: format!(
                            "{} {{ {} }}",
                            site.operation,
                            call(&literal, &hostile.with)
                        ),
                        variables: json!({}),
                        expect: hostile.expect,
                    });
                }
            }
        }
    }
    (cases, fields, arguments)
}

/// What is wrong with one answer.
async fn check(app: &TestApp, token: Option<&str>, case: &Case, unique: usize) -> Vec<String> {
    let mut request = app
        .client()
        .post(format!("{}/graphql", app.address))
        .timeout(Duration::from_secs(120))
        .insert_header(("Accept", "application/graphql-response+json"));
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let body = json!({ "query": case.query, "variables": case.variables })
        .to_string()
        .replace(UNIQUE, &unique.to_string());
    let mut response = match request
        .insert_header(("Content-Type", "application/json"))
        .send_body(body)
        .await
    {
        Ok(response) => response,
        Err(error) => return vec![format!("no answer: {error}")],
    };
    let status = response.status().as_u16();
    let bytes = match response.body().limit(64 * 1024 * 1024).await {
        Ok(bytes) => bytes,
        Err(error) => return vec![format!("HTTP {status}, no body: {error}")],
    };
    let mut problems = Vec::new();
    if status >= 500 {
        problems.push(format!("HTTP {status}"));
    }
    let Ok(answer) = serde_json::from_slice::<Value>(&bytes) else {
        if status < 400 {
            problems.push(format!("HTTP {status} with a body that is not JSON"));
        }
        return problems;
    };
    let errors = answer["errors"].as_array().cloned().unwrap_or_default();
    let request_error = (400..500).contains(&status);
    let mut bad_input = request_error;
    let mut internal = Vec::new();
    for error in &errors {
        let code = error["extensions"]["code"].as_str().unwrap_or("");
        let message = error["message"].as_str().unwrap_or("");
        if code.is_empty() {
            problems.push(format!("an error without a code: {}", clip(message)));
        }
        if code == "INTERNAL_SERVER_ERROR" {
            internal.push(error["path"].to_string());
        }
        bad_input |= code == "BAD_USER_INPUT";
    }
    if !internal.is_empty() {
        problems.push(format!("INTERNAL_SERVER_ERROR at {}", internal.join(", ")));
    }
    let mut messages = Vec::new();
    // Its errors' and its user errors'.
    find_key(&answer, "message", &mut messages);
    for message in messages {
        if message.chars().count() > MAX_MESSAGE_CHARS {
            problems.push(format!(
                "a message of {} characters: {}",
                message.chars().count(),
                clip(&message)
            ));
        }
    }
    let user_errors = {
        let mut found = Vec::new();
        find_array(&answer["data"], "userErrors", &mut found);
        found.iter().any(|errors| !errors.is_empty())
    };
    let wrong = match case.expect {
        Expect::Anything => None,
        Expect::RefusedUpfront => (!bad_input).then_some("not refused with BAD_USER_INPUT"),
        Expect::Refused => (!(request_error || !errors.is_empty() || user_errors))
            .then_some("taken without an error or a user error"),
        Expect::BadInput => (!if token.is_some() {
            bad_input
        } else {
            request_error || !errors.is_empty()
        })
        .then_some("not refused with BAD_USER_INPUT"),
        Expect::Accepted => (token.is_some() && bad_input).then_some("refused with BAD_USER_INPUT"),
    };
    if let Some(wrong) = wrong {
        problems.push(format!("{wrong}: {}", clip(&answer.to_string())));
    }
    problems
}

fn clip(text: &str) -> String {
    let clipped: String = text.chars().take(200).collect();
    if clipped.len() < text.len() {
        format!("{clipped}…")
    } else {
        clipped
    }
}

// ---------------------------------------------------------------------------------------------
// The shop the cases run against.

/// Two of everything a mutation may name (see [`Fixtures::id`]), made through the API as the admin.
async fn fixtures(app: &TestApp, admin: &str) -> Fixtures {
    let data = |query: &'static str, variables: Value| async move {
        let data = app.data_as(admin, query, variables).await;
        let payload = data.as_object().and_then(|o| o.values().next()).cloned();
        if let Some(errors) = payload.as_ref().and_then(|p| p.get("userErrors")) {
            assert_eq!(errors, &json!([]), "{query}");
        }
        data
    };
    let text = |value: &Value| value.as_str().expect("a fixture value").to_owned();
    // What a customer may buy (staff also see drafts).
    let catalog = app
        .data(
            "{ categories { id slug } products(first: 10, where: { inStock: true }) {
                edges { node { id slug variants { id inStock } } } } }",
            json!({}),
        )
        .await;
    let products: Vec<(String, String, String)> = catalog["products"]["edges"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|edge| {
            let node = &edge["node"];
            let variant = node["variants"]
                .as_array()?
                .iter()
                .find(|v| v["inStock"] == true)?;
            Some((text(&node["id"]), text(&node["slug"]), text(&variant["id"])))
        })
        .take(2)
        .collect();
    assert_eq!(products.len(), 2, "two products in stock");
    let address_input = &json!({ "firstName": "A", "lastName": "B", "line1": "1 Main St",
                                 "city": "Springfield", "countryCode": "US" });
    let address = || async {
        text(
            &data(
                "mutation($input: AddressInput!) { addressAdd(input: $input) { address { id } userErrors { code } } }",
                json!({ "input": address_input }),
            )
            .await["addressAdd"]["address"]["id"],
        )
    };
    let products = &products;
    let cart = || async move {
        let cart = text(
            &data(
                "mutation { cartCreate { cart { id } userErrors { code } } }",
                json!({}),
            )
            .await["cartCreate"]["cart"]["id"],
        );
        data(
            "mutation($cart: ID!, $v: ID!) { cartLinesAdd(cartId: $cart, lines: [{ variantId: $v, quantity: 1 }]) { userErrors { code } } }",
            json!({ "cart": cart, "v": products[0].2 }),
        )
        .await;
        cart
    };
    let place = |key: &'static str| async move {
        let checkout = data(
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) {
                order { id } orderAccessToken userErrors { code } } }",
            json!({ "input": { "cartId": cart().await, "email": "admin@example.com",
                               "idempotencyKey": key, "shippingAddress": address_input } }),
        )
        .await;
        (
            text(&checkout["checkoutComplete"]["order"]["id"]),
            text(&checkout["checkoutComplete"]["orderAccessToken"]),
        )
    };
    let discount = |code: &'static str| async move {
        text(
            &data(
                "mutation($code: String!) { discountCodeCreate(input: { code: $code, kind: PERCENTAGE, value: \"10\" }) {
                    discountCode { id } userErrors { code } } }",
                json!({ "code": code }),
            )
            .await["discountCodeCreate"]["discountCode"]["id"],
        )
    };
    let (order, order_token) = place("hostile-fixture").await;
    let (spare_order, _) = place("hostile-fixture-2").await;
    let image = data(
        "mutation($p: ID!) { productImageAdd(productId: $p, url: \"https://img.example/a.jpg\") {
            product { images { id } } userErrors { code } } }",
        json!({ "p": products[0].0 }),
    )
    .await;
    let image = text(&image["productImageAdd"]["product"]["images"][0]["id"]);
    let review = data(
        "mutation($p: ID!) { reviewSubmit(productId: $p, input: { rating: 4, title: \"Fine\" }) {
            review { id } userErrors { code } } }",
        json!({ "p": products[1].0 }),
    )
    .await;
    let review = text(&review["reviewSubmit"]["review"]["id"]);
    let category = |i: usize| text(&catalog["categories"][i]["id"]);
    let partner_app = data(
        "mutation { appCreate(name: \"Hostile\", contact: \"h@example.com\") { app { id } } }",
        json!({}),
    )
    .await;
    let subscription = || async {
        text(
            &data(
                "mutation($app: ID) { webhookSubscriptionCreate(appId: $app, url: \"http://127.0.0.1:9/x\",
                    events: [PRODUCT_CREATED]) { subscription { id } userErrors { code } } }",
                json!({ "app": partner_app["appCreate"]["app"]["id"] }),
            )
            .await["webhookSubscriptionCreate"]["subscription"]["id"],
        )
    };
    let collection = |title: &'static str| async move {
        let made = data(
            "mutation($title: String!) { collectionCreate(input: { title: $title }) {
                collection { id slug } userErrors { code } } }",
            json!({ "title": title }),
        )
        .await;
        let id = text(&made["collectionCreate"]["collection"]["id"]);
        data(
            "mutation($id: ID!, $p: [ID!]!) { collectionAddProducts(id: $id, productIds: $p) {
                userErrors { code } } }",
            json!({ "id": id, "p": [products[0].0, products[1].0] }),
        )
        .await;
        (id, text(&made["collectionCreate"]["collection"]["slug"]))
    };
    let (main_collection, collection_slug) = collection("Hostile picks").await;
    let (spare_collection, _) = collection("Spare picks").await;
    Fixtures {
        ids: vec![
            ("Category", category(0), category(1)),
            ("Collection", main_collection, spare_collection),
            ("Product", products[0].0.clone(), products[1].0.clone()),
            ("Variant", products[0].2.clone(), products[1].2.clone()),
            (
                "Account",
                app.register("customer@example.com").await.id,
                app.register("other@example.com").await.id,
            ),
            ("Address", address().await, address().await),
            ("Order", order, spare_order),
            ("Image", image.clone(), image),
            ("Review", review.clone(), review),
            (
                "DiscountCode",
                discount("HOSTILE").await,
                discount("SPARE").await,
            ),
            ("Cart", cart().await, cart().await),
            (
                "WebhookSubscription",
                subscription().await,
                subscription().await,
            ),
        ],
        product_slug: products[0].1.clone(),
        category_slug: text(&catalog["categories"][0]["slug"]),
        collection_slug,
        discount_code: "HOSTILE".to_owned(),
        order_token,
        idempotency_key: "hostile-fixture".to_owned(),
        cursors: HashMap::new(),
    }
}

/// Real cursors of every connection (the end of its first page), by `Owner.field`: one in its
/// default order, and one in each order its enum-valued input arguments (`sortBy`) can ask for
/// whose cursor has another shape; each with the arguments it was read with.
async fn real_cursors(
    app: &TestApp,
    admin: &str,
    schema: &Schema,
    fixtures: &Fixtures,
) -> HashMap<String, Vec<(String, String)>> {
    let mut cursors: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for site in schema.sites() {
        let field = &site.field;
        let has = |name: &str| field.args.iter().any(|arg| arg.name == name);
        let paged = schema.types[field.ty.named()]
            .fields
            .iter()
            .any(|f| f.name == "pageInfo");
        if !(has("first") && has("after") && paged) {
            continue;
        }
        let at = At {
            owner: &site.owner,
            field: &field.name,
            mutation: site.operation == "mutation",
        };
        let mut arguments: Vec<String> = field
            .args
            .iter()
            .filter(|arg| arg.required())
            .map(|arg| {
                let value = fixtures.valid(schema, &arg.ty, at, &arg.name);
                format!("{}: {}", arg.name, value.literal().expect("a literal"))
            })
            .collect();
        arguments.push("first: 1".to_owned());
        // The orders: each enum field of each optional input-object argument, at each value.
        let mut orders = vec![String::new()];
        for arg in field.args.iter().filter(|arg| !arg.required()) {
            let definition = &schema.types[arg.ty.named()];
            if definition.kind != "INPUT_OBJECT" {
                continue;
            }
            for input in &definition.input_fields {
                let Some(values) = schema
                    .types
                    .get(input.ty.named())
                    .filter(|t| t.kind == "ENUM")
                    .map(|t| &t.enum_values)
                else {
                    continue;
                };
                for value in values {
                    let mut fields: Vec<(String, Val)> = definition
                        .input_fields
                        .iter()
                        .filter(|other| other.required() && other.name != input.name)
                        .map(|other| {
                            let valid = fixtures.valid(schema, &other.ty, at, &other.name);
                            (other.name.clone(), valid)
                        })
                        .collect();
                    fields.push((input.name.clone(), Val::Enum(value.clone())));
                    let literal = Val::Object(fields).literal().expect("a literal");
                    orders.push(format!("{}: {literal}", arg.name));
                }
            }
        }
        let open: String = site.path.iter().map(|name| format!("{name} {{ ")).collect();
        let close = " }".repeat(site.path.len());
        let mut shapes = HashSet::new();
        for order in orders {
            let mut all = arguments.clone();
            if !order.is_empty() {
                all.push(order.clone());
            }
            let query = format!(
                "{} {{ {open}{}({}) {{ pageInfo {{ endCursor }} }}{close} }}",
                site.operation,
                field.name,
                all.join(", ")
            );
            let answer = app.graphql_as(Some(admin), &query, json!({})).await;
            let mut found = Vec::new();
            find_key(&answer["data"], "endCursor", &mut found);
            let Some(cursor) = found.into_iter().next() else {
                continue;
            };
            if shapes.insert(shape(&decode_cursor(&cursor).unwrap_or(Value::Null))) {
                cursors
                    .entry(format!("{}.{}", site.owner, field.name))
                    .or_default()
                    .push((order, cursor));
            }
        }
    }
    cursors
}

/// A JSON value with each leaf replaced by its type's name.
fn shape(value: &Value) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(shape).collect::<Vec<_>>().join(",")
        ),
        Value::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(name, value)| format!("{name}:{}", shape(value)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::String(_) => "string".to_owned(),
        Value::Number(_) => "number".to_owned(),
        Value::Bool(_) => "bool".to_owned(),
        Value::Null => "null".to_owned(),
    }
}

/// Every array under `key` in a JSON value.
fn find_array(value: &Value, key: &str, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(fields) => {
            for (name, value) in fields {
                match value {
                    Value::Array(items) if name == key => out.push(items.clone()),
                    _ => find_array(value, key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| find_array(item, key, out)),
        _ => {}
    }
}

/// Every string under `key` in a JSON value.
fn find_key(value: &Value, key: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (name, value) in fields {
                match value {
                    Value::String(text) if name == key => out.push(text.clone()),
                    _ => find_key(value, key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| find_key(item, key, out)),
        _ => {}
    }
}

#[actix_web::test]
async fn hostile_values_for_every_argument_of_the_schema_get_clear_errors() {
    let app = spawn_app_with(1, &["--workers", "2"]).await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let schema = Schema::parse(&app.data(INTROSPECTION, json!({})).await);
    let mut fixtures = fixtures(&app, &admin.token).await;
    fixtures.cursors = real_cursors(&app, &admin.token, &schema, &fixtures).await;
    assert!(
        fixtures.cursors.len() >= 5 && fixtures.cursors.values().any(|c| c.len() > 1),
        "real cursors: {:?}",
        fixtures.cursors
    );
    let (cases, fields, arguments) = cases(&schema, &fixtures);
    assert!(
        fields > 50 && arguments > 100 && cases.len() > 2_000,
        "{fields} fields, {arguments} arguments, {} cases",
        cases.len()
    );

    let started = Instant::now();
    let callers = [("anonymous", None), ("admin", Some(admin.token.as_str()))];
    let runs = cases
        .iter()
        .flat_map(|case| callers.iter().map(move |caller| (case, caller)))
        .enumerate();
    let failures: Vec<String> = futures_util::stream::iter(runs)
        .map(|(unique, (case, (who, token)))| {
            let app = &app;
            async move {
                check(app, *token, case, unique)
                    .await
                    .into_iter()
                    .map(|problem| format!("{} by {who}: {problem}", case.label))
                    .collect::<Vec<_>>()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(futures_util::stream::iter)
        .collect()
        .await;
    eprintln!(
        "hostile inputs: {fields} fields, {arguments} arguments, {} cases, {} requests in {:.1} s",
        cases.len(),
        cases.len() * callers.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
