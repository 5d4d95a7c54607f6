//! The PAM API's bodies as they travel (Valkyrie PAM API 0.7.0, docs/PAM.md). Field names
//! are the PAM's (camelCase); amounts stay raw JSON until `pam::amount` reads them.
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// What a studio's transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransactionType {
    Deposit,
    Withdraw,
    Cancel,
    Promodeposit,
    Promowithdraw,
    Promocancel,
}

impl TransactionType {
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionType::Deposit => "DEPOSIT",
            TransactionType::Withdraw => "WITHDRAW",
            TransactionType::Cancel => "CANCEL",
            TransactionType::Promodeposit => "PROMODEPOSIT",
            TransactionType::Promowithdraw => "PROMOWITHDRAW",
            TransactionType::Promocancel => "PROMOCANCEL",
        }
    }

    pub fn is_withdraw(self) -> bool {
        matches!(
            self,
            TransactionType::Withdraw | TransactionType::Promowithdraw
        )
    }

    pub fn is_cancel(self) -> bool {
        matches!(self, TransactionType::Cancel | TransactionType::Promocancel)
    }
}

/// `POST /players/{playerId}/transactions`. Fields the wallet does not use (`betCode`,
/// `promos`, `jackpots`, `tip`) are accepted and kept in the stored request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub currency: String,
    pub provider: String,
    pub transaction_type: TransactionType,
    pub cash_amount: Box<RawValue>,
    pub bonus_amount: Box<RawValue>,
    pub promo_amount: Box<RawValue>,
    pub transaction_date_time: String,
    pub provider_transaction_id: String,
    pub provider_bet_ref: Option<String>,
    pub provider_game_id: Option<String>,
    pub provider_round_id: Option<String>,
    pub is_game_over: Option<bool>,
    pub round_transactions: Option<Vec<RoundTransaction>>,
}

/// One transaction of the round a studio settles in one call (`roundTransactions`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundTransaction {
    pub provider_transaction_id: Option<String>,
    pub transaction_date_time: Option<String>,
    pub cash_amount: Option<Box<RawValue>>,
    pub is_game_over: Option<bool>,
    pub transaction_type: TransactionType,
    pub provider_bet_ref: Option<String>,
}

impl RoundTransaction {
    /// This transaction as a transaction of its own: the call's fields (`parent`, the
    /// call's body) with this one's type, id, amount, time, reference and `isGameOver`.
    /// What the key's record keeps, and the lookup answers.
    pub fn as_transaction(&self, parent: &Value) -> Value {
        let mut own = parent.clone();
        if let Some(fields) = own.as_object_mut() {
            fields.remove("roundTransactions");
            fields.remove("isGameOver");
            fields.remove("providerBetRef");
            let mut set = |name: &str, value: Value| {
                fields.insert(name.to_owned(), value);
            };
            set(
                "transactionType",
                Value::from(self.transaction_type.as_str()),
            );
            if let Some(id) = &self.provider_transaction_id {
                set("providerTransactionId", Value::from(id.as_str()));
            }
            let cash = self.cash_amount.as_ref().map_or("0", |raw| raw.get());
            set(
                "cashAmount",
                serde_json::from_str(cash).unwrap_or(Value::Null),
            );
            if let Some(time) = &self.transaction_date_time {
                set("transactionDateTime", Value::from(time.as_str()));
            }
            if let Some(bet_ref) = &self.provider_bet_ref {
                set("providerBetRef", Value::from(bet_ref.as_str()));
            }
            if let Some(over) = self.is_game_over {
                set("isGameOver", Value::from(over));
            }
        }
        own
    }
}

/// The PAM's balance: cash from the ledger; no bonus or promo money.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub cash_amount: Box<RawValue>,
    pub bonus_amount: Box<RawValue>,
    pub promo_amount: Box<RawValue>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<Balance>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub player_id: String,
    pub token: String,
    pub currency: String,
    pub country: String,
    pub language: String,
    pub game_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GameRound {
    pub provider_game_id: String,
    pub provider_round_id: String,
    pub start_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

/// The PAM's error object.
#[derive(Debug, Serialize)]
pub struct PamErrorBody {
    pub code: &'static str,
    pub message: String,
}

/// Every PAM answer: `status` `OK` with the entity, or `ERROR` with the error (and, for a
/// refused transaction, the balance).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PamErrorBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<Balance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_result: Option<TransactionResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gameround: Option<GameRound>,
}

impl Answer {
    pub fn ok() -> Answer {
        Answer {
            status: "OK",
            error: None,
            session: None,
            balance: None,
            transactions: None,
            transaction_result: None,
            gameround: None,
        }
    }
}
