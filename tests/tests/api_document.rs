//! `docs/openapi.json` held to the server without serving it: its routes are the server's
//! routes, each operation names the scope the route table requires, its enums are the wire
//! tables, and every request object is closed as the server closes it. The API over TCP is
//! in `api.rs`.

use std::collections::BTreeSet;

use privacy_guard_host::changes::CHANGE_KINDS;
use privacy_guard_host::contract::configuration::{
    ConditionOp, ConfirmationPolicy, ConsentDefault, IpPolicy, Prerequisite, PurposeChange,
};
use privacy_guard_host::contract::records::EditRefusalReason;
use privacy_guard_host::contract::sending::{
    LawfulBasis, MessageClass, RecipientRole, RefusalReason,
};
use privacy_guard_host::contract::subjects::PersonStatus;
use privacy_guard_host::contract::types::{ConsentValue, Regime};
use privacy_guard_host::http::api::{route_scopes, routes};
use privacy_guard_host::wire::{self, Wire};
use serde_json::Value;

fn openapi() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .expect("docs/openapi.json");
    serde_json::from_str(&text).expect("the OpenAPI document is JSON")
}

#[test]
fn the_openapi_document_lists_exactly_the_servers_routes() {
    let document = openapi();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn every_operation_documents_the_scope_the_table_requires_and_its_refusal() {
    let document = openapi();
    for (method, path, scope) in route_scopes() {
        let operation = &document["paths"][path][method.to_lowercase()];
        assert_eq!(
            operation["x-required-scope"].as_str(),
            Some(scope.text()),
            "{method} {path}: the table requires `{scope}`"
        );
        assert_eq!(
            operation["responses"]["403"]["$ref"], "#/components/responses/Forbidden",
            "{method} {path} documents no 403 for a key without `{scope}`"
        );
    }
}

/// Every array of strings the document offers as an `enum`.
fn documented_enums(value: &Value, found: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(items)) = object.get("enum") {
                found.push(
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect(),
                );
            }
            object
                .values()
                .for_each(|value| documented_enums(value, found));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|value| documented_enums(value, found)),
        _ => {}
    }
}

/// A wire table's texts as the API writes them.
fn api_texts<T: Wire>() -> (&'static str, Vec<String>) {
    (
        T::WHAT,
        T::TABLE
            .iter()
            .map(|(value, _, _)| value.api_text())
            .collect(),
    )
}

#[test]
fn the_documented_enums_are_the_wire_tables() {
    let mut documented = Vec::new();
    documented_enums(&openapi(), &mut documented);
    let tables = [
        api_texts::<MessageClass>(),
        api_texts::<RecipientRole>(),
        api_texts::<LawfulBasis>(),
        api_texts::<RefusalReason>(),
        api_texts::<ConsentValue>(),
        api_texts::<PersonStatus>(),
        api_texts::<ConsentDefault>(),
        api_texts::<ConditionOp>(),
        api_texts::<ConfirmationPolicy>(),
        api_texts::<IpPolicy>(),
        api_texts::<Prerequisite>(),
        api_texts::<EditRefusalReason>(),
        api_texts::<Regime>(),
        api_texts::<PurposeChange>(),
        (
            "change kind",
            CHANGE_KINDS
                .iter()
                .map(|(_, text, _)| (*text).to_owned())
                .collect(),
        ),
        (
            "obligation",
            wire::OBLIGATIONS
                .iter()
                .map(|(_, text, _)| text.replace('-', "_"))
                .collect(),
        ),
        (
            "consent kind",
            wire::CONSENT_KINDS
                .iter()
                .map(|(name, _)| name.replace('-', "_"))
                .collect(),
        ),
    ];
    for (what, texts) in &tables {
        assert!(
            documented.contains(texts),
            "docs/openapi.json offers no {what} enum {texts:?} (the wire table's texts)"
        );
    }
    // What the document enumerates that is no contract enum: error codes (all of them, and
    // each response's own), event kinds (the core's) and the one decision source.
    let error_codes: Vec<String> = openapi()["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("the ErrorCode enum")
        .iter()
        .filter_map(|code| code.as_str().map(str::to_owned))
        .collect();
    let others = documented
        .iter()
        .filter(|texts| !tables.iter().any(|(_, table)| table == *texts))
        .filter(|texts| {
            !(texts.iter().all(|text| error_codes.contains(text))
                || texts.contains(&"consent-changed".to_owned())
                || **texts == ["api"])
        })
        .collect::<Vec<_>>();
    assert!(
        others.is_empty(),
        "docs/openapi.json enumerates texts no wire table has: {others:?}"
    );
}

/// Every object a request body may hold, reached through `$ref`s from `schema`.
fn request_objects<'d>(
    document: &'d Value,
    schema: &'d Value,
    at: String,
    found: &mut Vec<(String, &'d Value)>,
) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let mut target = document;
        for part in reference.trim_start_matches("#/").split('/') {
            target = &target[part];
        }
        return request_objects(document, target, at, found);
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        found.push((at.clone(), schema));
        for (name, property) in properties {
            request_objects(document, property, format!("{at}.{name}"), found);
        }
    }
    if let Some(additional) = schema
        .get("additionalProperties")
        .filter(|value| value.is_object())
    {
        request_objects(document, additional, format!("{at}.*"), found);
    }
    if let Some(items) = schema.get("items") {
        request_objects(document, items, format!("{at}[]"), found);
    }
}

/// The server refuses a field it does not know in every body (`deny_unknown_fields`), so
/// the document closes every object a request may send.
#[test]
fn the_document_closes_every_request_object_as_the_server_does() {
    let document = openapi();
    let mut open = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            let mut found = Vec::new();
            request_objects(
                &document,
                schema,
                format!("{method} {path}: body"),
                &mut found,
            );
            open.extend(
                found
                    .into_iter()
                    .filter(|(_, object)| {
                        object.get("additionalProperties") != Some(&Value::Bool(false))
                    })
                    .map(|(at, _)| at),
            );
        }
    }
    assert!(
        open.is_empty(),
        "request objects without additionalProperties: false: {open:#?}"
    );
}
