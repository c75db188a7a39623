//! `store`: the plugin's key-value state and its append-only event log.

use super::HostFailure;
use crate::capabilities::HostState;
use crate::capabilities::budget::Spending;
use crate::contract::imports::store::{self, Entry, Event, PackedValues};
use crate::storage::NewEvent;

impl store::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        if let Some(pending) = self.work.kv.get(&key) {
            return Ok(pending.clone());
        }
        let database = self.work.reads(self.capabilities.database());
        let mut values = self
            .capabilities
            .block_on(async move { database.kv_get_many(&[key.as_str()]).await })?;
        Ok(values.pop().flatten().map(|value| value.to_vec()))
    }

    fn get_many(&mut self, keys: Vec<String>) -> wasmtime::Result<PackedValues> {
        // The hot path of every pre-send check: one look-up for the whole batch, answered
        // in one buffer.
        let unpending: Vec<&str> = keys
            .iter()
            .filter(|key| !self.work.kv.contains_key(*key))
            .map(String::as_str)
            .collect();
        let database = self.work.reads(self.capabilities.database());
        let stored = if unpending.is_empty() {
            Vec::new()
        } else {
            self.capabilities
                .block_on(database.kv_get_many(&unpending))?
        };
        let mut stored = stored.into_iter();
        let mut packed = PackedValues {
            data: Vec::new(),
            spans: Vec::with_capacity(keys.len()),
        };
        for key in &keys {
            let value = match self.work.kv.get(key) {
                Some(pending) => pending
                    .as_deref()
                    .map(|value| pack(&mut packed.data, value)),
                None => stored
                    .next()
                    .flatten()
                    .map(|value| pack(&mut packed.data, &value)),
            };
            packed.spans.push(value.transpose()?);
        }
        Ok(packed)
    }

    fn put(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<()> {
        self.spend(Spending::StoreBytes, key.len() + value.len())?;
        self.work.kv.insert(key, Some(value));
        Ok(())
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.spend(Spending::StoreBytes, key.len())?;
        self.work.kv.insert(key, None);
        Ok(())
    }

    fn scan(
        &mut self,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Vec<Entry>> {
        let in_range = |key: &str| {
            key.starts_with(&prefix) && after.as_deref().is_none_or(|after| key > after)
        };
        // Pending deletions may hide stored entries: fetch enough to still fill the page.
        let hidden = self
            .work
            .kv
            .iter()
            .filter(|(key, value)| value.is_none() && in_range(key))
            .count() as u32;
        let database = self.work.reads(self.capabilities.database());
        let stored = self.capabilities.block_on(async {
            database
                .kv_scan(&prefix, after.as_deref(), limit.saturating_add(hidden))
                .await
        })?;
        let mut merged: std::collections::BTreeMap<String, Vec<u8>> = stored.into_iter().collect();
        for (key, value) in self.work.kv.iter().filter(|(key, _)| in_range(key)) {
            match value {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        Ok(merged
            .into_iter()
            .take(limit as usize)
            .map(|(key, value)| Entry { key, value })
            .collect())
    }

    fn append_event(&mut self, stream_id: String, payload: String) -> wasmtime::Result<()> {
        self.spend(Spending::Events, 1)?;
        self.spend(Spending::StoreBytes, stream_id.len() + payload.len())?;
        self.work.events.push(NewEvent {
            stream: stream_id,
            payload,
        });
        Ok(())
    }

    fn read_events(
        &mut self,
        stream_id: String,
        after: Option<u64>,
        limit: u32,
    ) -> wasmtime::Result<Vec<Event>> {
        let database = self.work.reads(self.capabilities.database());
        let stored = self
            .capabilities
            .block_on(async { database.events(&stream_id, after, limit).await })?;
        let now = self.capabilities.clock().now_millis();
        let mut events: Vec<Event> = stored
            .into_iter()
            .map(|event| Event {
                sequence: event.sequence,
                stream_id: event.stream,
                payload: event.payload,
                recorded_at: event.recorded_at,
            })
            .collect();
        // The call's own events are not committed yet: they come last, with sequence 0.
        let room = (limit as usize).saturating_sub(events.len());
        events.extend(
            self.work
                .events
                .iter()
                .filter(|event| event.stream == stream_id)
                .take(room)
                .map(|event| Event {
                    sequence: 0,
                    stream_id: event.stream.clone(),
                    payload: event.payload.clone(),
                    recorded_at: now,
                }),
        );
        Ok(events)
    }
}

/// Appends `value` to `data` and returns its span.
fn pack(data: &mut Vec<u8>, value: &[u8]) -> wasmtime::Result<(u32, u32)> {
    let span = u32::try_from(data.len())
        .ok()
        .zip(u32::try_from(value.len()).ok());
    let Some(span) = span.filter(|(start, len)| start.checked_add(*len).is_some()) else {
        return Err(wasmtime::Error::new(HostFailure(
            "a batch read exceeds 4 GiB".into(),
        )));
    };
    data.extend_from_slice(value);
    Ok(span)
}
