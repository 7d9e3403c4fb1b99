//! The public contract: `schema.graphql` is the printed schema, and every type, field and
//! argument is described.

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

#[test]
fn schema_graphql_is_up_to_date() {
    let printed = bazaar::graphql::sdl();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .unwrap_or_default();
    assert!(
        printed == committed,
        "schema.graphql is out of date: run `cargo run -- print-schema > schema.graphql`"
    );
}

#[test]
fn every_type_field_and_argument_is_described() {
    let document = parse_schema(bazaar::graphql::sdl()).expect("the SDL parses");
    let mut missing = Vec::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        if name.starts_with("__") {
            continue;
        }
        let builtin_scalar = matches!(
            name.as_str(),
            "String" | "Int" | "Float" | "Boolean" | "ID" | "DateTime"
        );
        if ty.description.is_none() && !builtin_scalar {
            missing.push(name.clone());
        }
        match &ty.kind {
            TypeKind::Object(object) => {
                for field in &object.fields {
                    let field = &field.node;
                    if field.description.is_none() {
                        missing.push(format!("{name}.{}", field.name.node));
                    }
                    for argument in &field.arguments {
                        if argument.node.description.is_none() {
                            missing.push(format!(
                                "{name}.{}({})",
                                field.name.node, argument.node.name.node
                            ));
                        }
                    }
                }
            }
            TypeKind::Interface(interface) => {
                for field in &interface.fields {
                    if field.node.description.is_none() {
                        missing.push(format!("{name}.{}", field.node.name.node));
                    }
                }
            }
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    if field.node.description.is_none() {
                        missing.push(format!("{name}.{}", field.node.name.node));
                    }
                }
            }
            TypeKind::Enum(values) => {
                for value in &values.values {
                    if value.node.description.is_none() {
                        missing.push(format!("{name}.{}", value.node.value.node));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(missing.is_empty(), "undescribed: {missing:?}");
}
