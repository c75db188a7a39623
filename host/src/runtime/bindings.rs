//! The host side of the WIT world, generated once and kept private to the runtime.
//!
//! Every import may trap (`trappable`): a host capability that fails (a database error,
//! say) aborts the call, so its unit of work is dropped whole instead of half-applied.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "privacy-guard",
    imports: { default: trappable },
    additional_derives: [PartialEq],
});
