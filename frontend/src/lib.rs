//! The browser entry point: hydrates the page the server rendered.
// The console's view types nest deeply; the compiler's default limit is too low for them.
#![recursion_limit = "256"]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
