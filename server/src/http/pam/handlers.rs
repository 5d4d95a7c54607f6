//! PAM handlers: find the caller (studio and session), call one function of `crate::pam`,
//! answer in the PAM's shape. Every answer leaves the studio's provider for the attempt
//! log; a transaction also leaves its key and how the key answered.
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use crate::http::capture::SignatureNote;
use crate::http::request_id::RequestId;
use crate::http::state::AppState;
use crate::http::{json_text_response, operation_note};
use crate::pam::caller::Caller;
use crate::pam::errors::PamError;
use crate::pam::transactions::pam_balance;
use crate::pam::wire::{Answer, PamErrorBody, TransactionResult};
use crate::pam::{account, transactions};

#[derive(Debug, Deserialize)]
pub struct ProviderQuery {
    provider: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionsQuery {
    provider: Option<String>,
    provider_transaction_id: Option<String>,
    provider_bet_ref: Option<String>,
}

const TOKEN_HEADER: &str = "x-player-token";

/// The request's studio and session; `player_id` on the paths that name one.
async fn caller(
    state: &AppState,
    provider: Option<&str>,
    headers: &HeaderMap,
    player_id: Option<&str>,
) -> Result<Caller, PamError> {
    let token = headers
        .get(TOKEN_HEADER)
        .and_then(|value| value.to_str().ok());
    Caller::find(state.store.reader(), provider, token, player_id).await
}

/// A PAM answer: `OK` with what the handler filled in, or `ERROR` with the code, the
/// message and, for a refused transaction, the balance.
pub fn pam_response(result: Result<Answer, PamError>) -> Response {
    let (status, answer) = match result {
        Ok(answer) => (200, answer),
        Err(error) => {
            let transaction_result = error.balance.as_ref().map(|money| TransactionResult {
                transaction_id: None,
                balance: Some(pam_balance(Some(money), &money.currency)),
            });
            let answer = Answer {
                status: "ERROR",
                error: Some(PamErrorBody {
                    code: error.code.as_str(),
                    message: error.message,
                }),
                transaction_result,
                ..Answer::ok()
            };
            (error.http_status, answer)
        }
    };
    json_text_response(status, serde_json::to_string(&answer).unwrap_or_default())
}

/// Leaves the studio's provider for the attempt log.
fn noted(mut response: Response, caller: Option<&Caller>) -> Response {
    if let Some(caller) = caller {
        response.extensions_mut().insert(SignatureNote {
            provider_id: Some(caller.provider_id.as_str().to_owned()),
            key_id: None,
            verdict: "BEARER",
        });
    }
    response
}

/// Finds the caller and answers `work` for it, or answers the caller's refusal.
async fn answer_for<F, Fut>(
    state: &AppState,
    provider: Option<&str>,
    headers: &HeaderMap,
    player_id: Option<&str>,
    work: F,
) -> Response
where
    F: FnOnce(Caller) -> Fut,
    Fut: std::future::Future<Output = Result<Answer, PamError>>,
{
    match caller(state, provider, headers, player_id).await {
        Ok(caller) => {
            let noted_caller = caller.clone();
            noted(pam_response(work(caller).await), Some(&noted_caller))
        }
        Err(error) => pam_response(Err(error)),
    }
}

/// `GET /pam/valkyrie/players/session`
pub async fn get_session(
    State(state): State<AppState>,
    Query(query): Query<ProviderQuery>,
    headers: HeaderMap,
) -> Response {
    answer_for(
        &state,
        query.provider.as_deref(),
        &headers,
        None,
        |caller| async {
            let caller = caller.require_live()?;
            let session =
                account::session(state.store.reader(), &state.locale_defaults, &caller).await?;
            Ok(Answer {
                session: Some(session),
                ..Answer::ok()
            })
        },
    )
    .await
}

/// `PUT /pam/valkyrie/players/session`
pub async fn refresh_session(
    State(state): State<AppState>,
    Query(query): Query<ProviderQuery>,
    headers: HeaderMap,
) -> Response {
    answer_for(
        &state,
        query.provider.as_deref(),
        &headers,
        None,
        |caller| async {
            let caller = caller.require_live()?;
            let session = account::refresh(&state.store, &state.locale_defaults, &caller).await?;
            Ok(Answer {
                session: Some(session),
                ..Answer::ok()
            })
        },
    )
    .await
}

/// `GET /pam/valkyrie/players/{playerId}/balance`
pub async fn balance(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    Query(query): Query<ProviderQuery>,
    headers: HeaderMap,
) -> Response {
    answer_for(
        &state.clone(),
        query.provider.as_deref(),
        &headers,
        Some(&player_id),
        |caller| async move {
            let balance =
                account::balance(state.store.reader(), &state.currencies, &caller).await?;
            // As the wallet API's lookups: nothing is answered that a power cut could undo.
            state.store.settled().await;
            Ok(Answer {
                balance: Some(balance),
                ..Answer::ok()
            })
        },
    )
    .await
}

/// `GET /pam/valkyrie/players/{playerId}/transactions`
pub async fn find_transactions(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    Query(query): Query<TransactionsQuery>,
    headers: HeaderMap,
) -> Response {
    answer_for(
        &state.clone(),
        query.provider.as_deref(),
        &headers,
        Some(&player_id),
        |caller| async move {
            let found = transactions::find(
                state.store.reader(),
                &caller,
                query.provider_transaction_id.as_deref(),
                query.provider_bet_ref.as_deref(),
            )
            .await?;
            state.store.settled().await;
            Ok(Answer {
                transactions: Some(found),
                ..Answer::ok()
            })
        },
    )
    .await
}

/// `GET /pam/valkyrie/players/{playerId}/gamerounds/{roundId}`
pub async fn game_round(
    State(state): State<AppState>,
    Path((player_id, round_id)): Path<(String, String)>,
    Query(query): Query<ProviderQuery>,
    headers: HeaderMap,
) -> Response {
    answer_for(
        &state.clone(),
        query.provider.as_deref(),
        &headers,
        Some(&player_id),
        |caller| async move {
            let round = account::round(state.store.reader(), &caller, &round_id).await?;
            state.store.settled().await;
            Ok(Answer {
                gameround: Some(round),
                ..Answer::ok()
            })
        },
    )
    .await
}

/// `POST /pam/valkyrie/players/{playerId}/transactions`
pub async fn add_transaction(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(player_id): Path<String>,
    Query(query): Query<ProviderQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match caller(
        &state,
        query.provider.as_deref(),
        &headers,
        Some(&player_id),
    )
    .await
    {
        Ok(caller) => caller,
        Err(error) => return pam_response(Err(error)),
    };
    let added =
        transactions::add(&state.store, &state.currencies, &caller, &request_id, &body).await;
    let answer = added.answer.map(|result| Answer {
        transaction_result: Some(result),
        ..Answer::ok()
    });
    let mut response = noted(pam_response(answer), Some(&caller));
    if let Some((operation, result)) = &added.executed {
        tracing::Span::current()
            .record("transaction_id", operation.keyed().transaction_id.as_str());
        response
            .extensions_mut()
            .insert(operation_note(result, operation.keyed()));
    }
    response
}
