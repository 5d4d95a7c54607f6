//! One simulated player: plays one round at a time, so the balance in every answer can be
//! compared with the model (nothing else moves this player's money meanwhile); keeps its
//! account funded and its sessions fresh; resends dropped requests when they fall due.
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;
use tokio::sync::watch;

use super::check;
use super::client::{OperatorClient, WireAnswer};
use super::model::PlayerModel;
use super::report::Tally;
use super::scenario::{plan_round, BodyParts, IdSource, PlanInput, Shape};
use super::Run;

/// Below this the player goes to the cashier before the next round.
const LOW_BALANCE_MINOR: i64 = 2_000;
/// A provider asks for the balance before about one round in ten (a game launch).
const BALANCE_READ_RATE: f64 = 0.1;
/// Sessions last a day; renew them well before.
const RENEW_SESSIONS_AFTER: Duration = Duration::from_secs(12 * 3600);
/// Cashier requests are idempotent by adjustment id, so resending is safe.
const CASHIER_ATTEMPTS: usize = 5;

/// The player's session at one provider's game.
pub struct Seat {
    pub game_id: String,
    pub session_token: String,
}

/// A request whose answer was dropped, to be sent again when it falls due.
pub(super) struct PendingResend {
    pub due: Instant,
    pub provider: usize,
    pub path: &'static str,
    pub body: Vec<u8>,
    pub transaction_id: String,
    /// The answer the provider never saw: the resend must get it replayed.
    pub first: WireAnswer,
}

pub struct SimPlayer {
    pub(super) id: String,
    currency: &'static str,
    scale: u32,
    pub(super) seats: Vec<Seat>,
    sessions_opened: Instant,
    pub(super) model: PlayerModel,
    rng: StdRng,
    ids: IdSource,
    deposits: u64,
    pub(super) resends: Vec<PendingResend>,
    /// Set when a request went unanswered: the model may be wrong until the balance is
    /// read again.
    pub(super) needs_resync: bool,
}

impl SimPlayer {
    pub fn new(
        id: String,
        currency: &'static str,
        scale: u32,
        seats: Vec<Seat>,
        rng: StdRng,
    ) -> SimPlayer {
        SimPlayer {
            ids: IdSource::new(&id),
            id,
            currency,
            scale,
            seats,
            sessions_opened: Instant::now(),
            model: PlayerModel::with_balance(0),
            rng,
            deposits: 0,
            resends: Vec::new(),
            needs_resync: false,
        }
    }

    pub(super) fn body_parts(&self, provider: usize) -> BodyParts<'_> {
        BodyParts {
            player_id: &self.id,
            game_id: &self.seats[provider].game_id,
            session_token: &self.seats[provider].session_token,
            currency: self.currency,
            scale: self.scale,
        }
    }

    pub(super) fn currency(&self) -> (&'static str, u32) {
        (self.currency, self.scale)
    }

    /// Plays rounds at the run's pace until told to stop, then resends what is still
    /// pending so that every dropped answer is checked.
    pub async fn play(mut self, run: std::sync::Arc<Run>, mut stop: watch::Receiver<bool>) {
        while run.pacer.wait(&mut stop).await {
            self.resend_due(&run, false).await;
            self.look_after_account(&run).await;
            self.play_round(&run).await;
            run.tally.round();
        }
        self.resend_due(&run, true).await;
    }

    async fn play_round(&mut self, run: &Run) {
        let input = PlanInput {
            balance_minor: self.model.balance_minor(),
            providers: run.providers.len(),
            faults: &run.config.faults,
            retry_delay: run.config.resend_delay,
        };
        let plan = plan_round(&mut self.rng, &mut self.ids, &input);
        if let Shape::Faulty(fault) = plan.shape {
            run.tally.fault(fault.name());
        }
        if self.rng.gen_bool(BALANCE_READ_RATE) {
            self.read_balance(run, plan.provider, true).await;
        }
        for step in plan.steps {
            self.exchange(run, plan.provider, step).await;
        }
        if let Some(round_id) = &plan.round_id {
            self.model.forget_round(round_id);
        }
    }

    async fn look_after_account(&mut self, run: &Run) {
        if self.needs_resync {
            self.read_balance(run, 0, false).await;
        }
        if self.sessions_opened.elapsed() > RENEW_SESSIONS_AFTER {
            self.renew_sessions(run).await;
        }
        if self.model.balance_minor() < LOW_BALANCE_MINOR {
            let amount = self.rng.gen_range(10..=50) * 1_000;
            self.deposit(&run.operator, amount, &run.tally).await;
        }
    }

    async fn renew_sessions(&mut self, run: &Run) {
        for (index, provider) in run.providers.iter().enumerate() {
            match super::provider::open_session(&run.operator, &self.id, provider, &run.tally).await
            {
                Ok(token) => self.seats[index].session_token = token,
                Err(error) => run.tally.difference(format!("{}: {error:#}", self.id)),
            }
        }
        self.sessions_opened = Instant::now();
    }

    /// `POST /wallet/v1/balance`. As a check, the answer must equal the model; as a
    /// resync after an unanswered request, the model takes the wallet's balance.
    async fn read_balance(&mut self, run: &Run, provider: usize, check: bool) {
        let body = json!({ "player_id": self.id, "currency": self.currency }).to_string();
        let answer = run.providers[provider]
            .wallet
            .post(
                "/wallet/v1/balance",
                body.as_bytes(),
                super::client::Tamper::None,
            )
            .await;
        run.tally.request(answer.as_ref().ok());
        let Ok(answer) = answer else { return };
        if check {
            let found = check::balance_differences(&answer, self.model.balance_minor());
            self.record(&run.tally, "balance", found, &answer);
        } else if let (200, Some(balance)) = (answer.status, answer.balance_minor()) {
            self.model.resync_balance(balance);
            self.needs_resync = false;
        }
    }

    /// A cashier credit through the operator API, checked against the model.
    pub async fn deposit(&mut self, operator: &OperatorClient, amount_minor: i64, tally: &Tally) {
        self.deposits += 1;
        let adjustment_id = format!("{}-deposit{}", self.id, self.deposits);
        let body = credit(&adjustment_id, amount_minor, self.currency, self.scale);
        self.model.adjust(amount_minor);
        for attempt in 0..CASHIER_ATTEMPTS {
            let answer = operator.adjust(&self.id, &body).await;
            tally.operator_request();
            match answer {
                Ok(answer) if answer.status < 500 => {
                    let mut found = Vec::new();
                    if answer.status != 200 {
                        found.push(format!(
                            "deposit answered {}: {}",
                            answer.status, answer.body
                        ));
                    }
                    if answer.balance_minor() != Some(self.model.balance_minor()) {
                        found.push(format!(
                            "balance after a deposit: wallet {:?}, model {}",
                            answer.balance_minor(),
                            self.model.balance_minor()
                        ));
                    }
                    self.record(tally, &adjustment_id, found, &answer);
                    return;
                }
                _ => tokio::time::sleep(Duration::from_millis(250 << attempt)).await,
            }
        }
        self.needs_resync = true;
    }

    /// Counts an answer that differed from the model (once, with everything that
    /// differed), and takes the wallet's balance afterwards so that one fault is reported
    /// once, not in every later answer.
    pub(super) fn record(
        &mut self,
        tally: &Tally,
        transaction_id: &str,
        found: Vec<String>,
        answer: &WireAnswer,
    ) {
        if found.is_empty() {
            return;
        }
        tally.difference(format!(
            "{} {transaction_id}: {}",
            self.id,
            found.join("; ")
        ));
        if let Some(balance) = answer.balance_minor() {
            self.model.resync_balance(balance);
        }
    }

    /// Resends the requests whose answers were dropped, once due (or all of them, at the
    /// end of the run).
    async fn resend_due(&mut self, run: &Run, all: bool) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.resends)
            .into_iter()
            .partition(|resend| all || resend.due <= now);
        self.resends = later;
        for resend in due {
            self.resend(run, resend).await;
        }
    }
}

/// A cashier credit body (docs/API.md, "Operator API").
pub fn credit(
    adjustment_id: &str,
    amount_minor: i64,
    currency: &str,
    scale: u32,
) -> serde_json::Value {
    json!({
        "adjustment_id": adjustment_id,
        "direction": "CREDIT",
        "amount": { "value": amount_minor.to_string(), "currency": currency, "scale": scale },
        "reason": "simulated deposit",
    })
}
