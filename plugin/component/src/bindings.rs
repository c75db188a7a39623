//! The generated WIT bindings of the `privacy-guard` world; private to this crate.
//!
//! Everything outside this module sees the world only through the adapter modules, which
//! convert WIT types to the engine's types at the edge.

wit_bindgen::generate!({
    path: "../../wit",
    // The world of `privacy-guard` plus the packed pre-send check (contract 0.3.2) and the
    // safeguards (0.3.3).
    world: "privacy-guard-safeguards",
});

// The exports exist only in the component. Natively (the build clippy checks) they are left
// out: their symbol names (`privacy-guard:consent/...#set-settings`) contain `#`, which a
// native linker's version script reads as the start of a comment, so a native cdylib
// exporting them cannot be linked.
#[cfg(target_arch = "wasm32")]
export!(Plugin with_types_in self);

#[cfg(target_arch = "wasm32")]
use crate::Plugin;
