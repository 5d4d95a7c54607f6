//! Account names in `ledger_entries.account`: a player's own account, a provider's
//! clearing account per currency, the operator's cashier account per currency.

pub fn player_account(player_id: &str) -> String {
    format!("player:{player_id}")
}

pub fn provider_account(provider_id: &str, currency: &str) -> String {
    format!("provider:{provider_id}:{currency}")
}

pub fn cashier_account(currency: &str) -> String {
    format!("operator:cashier:{currency}")
}
