//! WIT values as the conformance kit's JSON (`conformance/README.md`), converted from and
//! to wasmtime's untyped values, for any function of the world: the reference driver
//! calls exports by name with it.
//!
//! The encoding: a record is an object keyed by its kebab-case field names; an enum its
//! case name; flags an array of the set names; a variant `{"tag": case, "val": payload}`
//! (no `val` without a payload); an option its value or `null`; a result
//! `{"tag": "ok" | "err", "val": ...}`; lists and tuples arrays; numbers, strings, chars
//! and booleans as themselves.

use serde_json::{Map, Value, json};
use wasmtime::component::{Type, Val};

/// Why a JSON value cannot stand for a WIT value of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ValueError {
    /// Where in the argument: `$.request.class`.
    pub at: String,
    pub message: String,
}

/// The WIT value of type `ty` that `json` encodes; `at` names it in errors.
pub fn from_json(json: &Value, ty: &Type, at: &str) -> Result<Val, ValueError> {
    let wrong = |expected: &str| ValueError {
        at: at.to_owned(),
        message: format!("expected {expected}, found {json}"),
    };
    Ok(match ty {
        Type::Bool => Val::Bool(json.as_bool().ok_or_else(|| wrong("a boolean"))?),
        Type::S8 => Val::S8(integer(json, at)?),
        Type::U8 => Val::U8(integer(json, at)?),
        Type::S16 => Val::S16(integer(json, at)?),
        Type::U16 => Val::U16(integer(json, at)?),
        Type::S32 => Val::S32(integer(json, at)?),
        Type::U32 => Val::U32(integer(json, at)?),
        Type::S64 => Val::S64(integer(json, at)?),
        Type::U64 => Val::U64(integer(json, at)?),
        Type::Float32 => Val::Float32(json.as_f64().ok_or_else(|| wrong("a number"))? as f32),
        Type::Float64 => Val::Float64(json.as_f64().ok_or_else(|| wrong("a number"))?),
        Type::Char => {
            let text = json.as_str().ok_or_else(|| wrong("a character"))?;
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(only), None) => Val::Char(only),
                _ => return Err(wrong("exactly one character")),
            }
        }
        Type::String => Val::String(json.as_str().ok_or_else(|| wrong("a string"))?.to_owned()),
        Type::List(list) => {
            let items = json.as_array().ok_or_else(|| wrong("an array"))?;
            let element = list.ty();
            Val::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| from_json(item, &element, &format!("{at}[{index}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Record(record) => {
            let object = json.as_object().ok_or_else(|| wrong("an object"))?;
            if let Some(unknown) = object
                .keys()
                .find(|key| !record.fields().any(|field| field.name == key.as_str()))
            {
                return Err(ValueError {
                    at: at.to_owned(),
                    message: format!(
                        "the record has no field `{unknown}` (its fields: {})",
                        record
                            .fields()
                            .map(|field| field.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            let mut fields = Vec::with_capacity(record.fields().len());
            for field in record.fields() {
                let at = format!("{at}.{}", field.name);
                let value = match (object.get(field.name), &field.ty) {
                    (Some(value), ty) => from_json(value, ty, &at)?,
                    (None, Type::Option(_)) => Val::Option(None),
                    (None, _) => {
                        return Err(ValueError {
                            at,
                            message: "missing".into(),
                        });
                    }
                };
                fields.push((field.name.to_owned(), value));
            }
            Val::Record(fields)
        }
        Type::Tuple(tuple) => {
            let items = json.as_array().ok_or_else(|| wrong("an array"))?;
            if items.len() != tuple.types().len() {
                return Err(wrong(&format!(
                    "an array of {} elements",
                    tuple.types().len()
                )));
            }
            Val::Tuple(
                items
                    .iter()
                    .zip(tuple.types())
                    .enumerate()
                    .map(|(index, (item, ty))| from_json(item, &ty, &format!("{at}[{index}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Variant(variant) => {
            let (tag, payload) = tagged(json, at)?;
            let case = variant
                .cases()
                .find(|case| case.name == tag)
                .ok_or_else(|| ValueError {
                    at: at.to_owned(),
                    message: format!(
                        "no case `{tag}` (the cases: {})",
                        variant
                            .cases()
                            .map(|case| case.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
            Val::Variant(
                case.name.to_owned(),
                payload_of(payload, case.ty.as_ref(), &format!("{at}.val"))?,
            )
        }
        Type::Enum(enumeration) => {
            let name = json.as_str().ok_or_else(|| wrong("a case name"))?;
            if !enumeration.names().any(|known| known == name) {
                return Err(wrong(&format!(
                    "one of {}",
                    enumeration.names().collect::<Vec<_>>().join(", ")
                )));
            }
            Val::Enum(name.to_owned())
        }
        Type::Option(option) => match json {
            Value::Null => Val::Option(None),
            some => Val::Option(Some(Box::new(from_json(some, &option.ty(), at)?))),
        },
        Type::Result(result) => {
            let (tag, payload) = tagged(json, at)?;
            let at = format!("{at}.val");
            match tag {
                "ok" => Val::Result(Ok(payload_of(payload, result.ok().as_ref(), &at)?)),
                "err" => Val::Result(Err(payload_of(payload, result.err().as_ref(), &at)?)),
                _ => return Err(wrong("a tag `ok` or `err`")),
            }
        }
        Type::Flags(flags) => {
            let names = json
                .as_array()
                .ok_or_else(|| wrong("an array of flag names"))?;
            let mut set = Vec::with_capacity(names.len());
            for name in names {
                match name.as_str() {
                    Some(name) if flags.names().any(|known| known == name) => {
                        set.push(name.to_owned())
                    }
                    _ => {
                        return Err(wrong(&format!(
                            "flag names among {}",
                            flags.names().collect::<Vec<_>>().join(", ")
                        )));
                    }
                }
            }
            Val::Flags(set)
        }
        other => {
            return Err(ValueError {
                at: at.to_owned(),
                message: format!("values of type {other:?} are not part of this encoding"),
            });
        }
    })
}

/// The JSON encoding of a WIT value.
pub fn to_json(value: &Val) -> Result<Value, String> {
    Ok(match value {
        Val::Bool(value) => json!(value),
        Val::S8(value) => json!(value),
        Val::U8(value) => json!(value),
        Val::S16(value) => json!(value),
        Val::U16(value) => json!(value),
        Val::S32(value) => json!(value),
        Val::U32(value) => json!(value),
        Val::S64(value) => json!(value),
        Val::U64(value) => json!(value),
        Val::Float32(value) => json!(value),
        Val::Float64(value) => json!(value),
        Val::Char(value) => json!(value.to_string()),
        Val::String(value) => json!(value),
        Val::List(items) | Val::Tuple(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| Ok((name.clone(), to_json(value)?)))
                .collect::<Result<Map<_, _>, String>>()?,
        ),
        Val::Variant(tag, payload) => tagged_json(tag, payload.as_deref())?,
        Val::Enum(name) => json!(name),
        Val::Option(None) => Value::Null,
        Val::Option(Some(value)) => to_json(value)?,
        Val::Result(Ok(payload)) => tagged_json("ok", payload.as_deref())?,
        Val::Result(Err(payload)) => tagged_json("err", payload.as_deref())?,
        Val::Flags(names) => json!(names),
        other => return Err(format!("{other:?} is not part of this encoding")),
    })
}

fn integer<T: TryFrom<i64> + TryFrom<u64>>(json: &Value, at: &str) -> Result<T, ValueError> {
    let converted = match (json.as_i64(), json.as_u64()) {
        (Some(signed), _) => T::try_from(signed).ok(),
        (None, Some(unsigned)) => T::try_from(unsigned).ok(),
        (None, None) => None,
    };
    converted.ok_or_else(|| ValueError {
        at: at.to_owned(),
        message: format!("expected an integer in the type's range, found {json}"),
    })
}

/// The `tag` and the `val` (if any) of a variant or result.
fn tagged<'j>(json: &'j Value, at: &str) -> Result<(&'j str, Option<&'j Value>), ValueError> {
    let object = json.as_object();
    let tag = object
        .and_then(|object| object.get("tag"))
        .and_then(Value::as_str);
    match (object, tag) {
        (Some(object), Some(tag)) if object.keys().all(|key| key == "tag" || key == "val") => {
            Ok((tag, object.get("val")))
        }
        _ => Err(ValueError {
            at: at.to_owned(),
            message: format!("expected {{\"tag\": ..., \"val\": ...}}, found {json}"),
        }),
    }
}

fn payload_of(
    payload: Option<&Value>,
    ty: Option<&Type>,
    at: &str,
) -> Result<Option<Box<Val>>, ValueError> {
    match (payload, ty) {
        (Some(payload), Some(ty)) => Ok(Some(Box::new(from_json(payload, ty, at)?))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ValueError {
            at: at.to_owned(),
            message: "this case carries no value".into(),
        }),
        (None, Some(_)) => Err(ValueError {
            at: at.to_owned(),
            message: "this case carries a value: give it as `val`".into(),
        }),
    }
}

fn tagged_json(tag: &str, payload: Option<&Val>) -> Result<Value, String> {
    let mut object = Map::new();
    object.insert("tag".into(), json!(tag));
    if let Some(payload) = payload {
        object.insert("val".into(), to_json(payload)?);
    }
    Ok(Value::Object(object))
}
