//! What a console call failed with: one type on both sides of every server function, so
//! a page can tell a refusal from an outage without reading the message.
use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

/// Each variant carries the words for the person who tried (its `Display`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ConsoleError {
    /// The input cannot be used (shown next to the form), including arguments the server
    /// function could not read.
    #[error("{0}")]
    Invalid(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is understood but the current state refuses it (a finding already
    /// resolved, the last admin).
    #[error("{0}")]
    Conflict(String),
    /// Not signed in, or the session ended.
    #[error("{0}")]
    SignedOut(String),
    /// The caller may not do this: their role, a password they must change first, their
    /// own approval request.
    #[error("{0}")]
    Forbidden(String),
    /// The database or another dependency failed, or the call did not get through;
    /// details are in the server log or the browser's console.
    #[error("the server could not answer; try again")]
    Unavailable,
}

impl FromServerFnError for ConsoleError {
    type Encoder = JsonEncoding;

    /// What the framework reports itself. On the server, arguments that did not decode
    /// are the caller's mistake; anything else (in the browser: the network, an answer
    /// that did not decode) is an outage.
    fn from_server_fn_error(error: ServerFnErrorErr) -> ConsoleError {
        match error {
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                ConsoleError::Invalid(format!("the request could not be read: {message}"))
            }
            ServerFnErrorErr::Deserialization(message) if cfg!(feature = "ssr") => {
                ConsoleError::Invalid(format!("the request could not be read: {message}"))
            }
            _ => ConsoleError::Unavailable,
        }
    }
}

pub type ConsoleResult<T> = Result<T, ConsoleError>;
