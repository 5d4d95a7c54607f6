//! oncewallet as the player account management (PAM) behind the Valkyrie aggregator: its
//! PAM API 0.7.0 over the wallet's own core, so that the studios Valkyrie speaks to get
//! every guarantee the wallet API gives (docs/PAM.md). The HTTP side (routes, the bearer
//! token, the answers' status codes) is `crate::http::pam`.
pub mod account;
pub mod amount;
pub mod bet_refs;
pub mod caller;
pub mod errors;
pub mod transactions;
pub mod wire;
