//! `GET /api/v1/proof/...`: the tenant's verifier key, a signed checkpoint of the event log
//! and the signed receipt of a person's answer ([`crate::proof`], `docs/proof.md`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::blocking;
use super::error::{ApiError, Authenticated};
use crate::contract::types::RecordRef;
use crate::proof::{self, ProofError};

/// The public key that verifies the tenant's checkpoints and receipts.
pub(super) async fn proof_key(tenant: Authenticated) -> Result<Json<serde_json::Value>, ApiError> {
    let verifier = blocking(&tenant.0.guard, |guard| guard.proof_verifier_key()).await?;
    Ok(Json(serde_json::json!({
        "verifier_key": verifier.text(),
        "name": verifier.name(),
        "origin": proof::origin_of(&verifier),
    })))
}

/// A checkpoint of the log as it is now, signed (and kept as the latest).
pub(super) async fn checkpoint(tenant: Authenticated) -> Result<Json<serde_json::Value>, ApiError> {
    let signed = blocking(&tenant.0.guard, |guard| guard.sign_checkpoint()).await?;
    Ok(Json(serde_json::json!({
        "origin": signed.checkpoint.origin,
        "size": signed.checkpoint.size,
        "hash": BASE64.encode(signed.checkpoint.hash),
        "checkpoint": signed.note,
    })))
}

/// `?event=SEQ`: the signed receipt of the person's answer recorded by that event, or of
/// their latest answer.
pub(super) async fn receipt(
    tenant: Authenticated,
    Path((module, id)): Path<(String, String)>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::invalid(format!(
            "the query string cannot be read: {rejection}; write it as ?event=SEQUENCE"
        ))
    })?;
    if let Some(name) = query.keys().find(|name| *name != "event") {
        return Err(ApiError::invalid(format!(
            "`{name}` is no parameter of this route: use `event` (the sequence of the answer's event)"
        )));
    }
    let event = query
        .get("event")
        .map(|text| {
            text.parse::<u64>().map_err(|_| {
                ApiError::invalid(format!(
                    "`event` must be the sequence of an event (a whole number); got `{text}`"
                ))
            })
        })
        .transpose()?;
    let person = RecordRef { module, id };
    let receipt = blocking(&tenant.0.guard, move |guard| guard.receipt(&person, event)).await?;
    match receipt {
        Ok(receipt) => Ok(Json(serde_json::json!({
            "sequence": receipt.sequence,
            "consent": receipt.consent,
            "answer": receipt.answer,
            "receipt": receipt.jws.trim_end(),
        }))),
        Err(problem @ (ProofError::NoAnswer { .. } | ProofError::NotAnAnswer { .. })) => {
            Err(ApiError::not_found(problem.to_string()))
        }
        Err(problem) => Err(ApiError::internal(problem.to_string())),
    }
}
