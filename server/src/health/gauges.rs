//! The gauges `/metrics` reads from the database when it is scraped: what an on-call team
//! pages on (docs/OPERATIONS.md, "Metrics and alerts"). Unlike the process's counters
//! (`telemetry::metrics`), they describe the database every node shares, so every node
//! reports the same figures and alert rules take their `max`. They are written straight
//! into the scrape's text, not through the process-wide recorder: tests run many servers
//! in one process, each with its own database.
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::Mutex;

use crate::db::Store;
use crate::reconcile::standing::Standing;

/// Scrapes within this long of the last read get its figures again: a scraper (or several)
/// cannot turn `/metrics` into a load on the database.
const READ_EVERY: Duration = Duration::from_secs(5);
/// How long a scrape waits for the database's figures. Well inside Prometheus's usual
/// 10 s scrape timeout: during an outage the scrape still answers, with the process's
/// counters (its 5xx among them) and `oncewallet_state_read_success 0`.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The database gauges of one server.
pub struct Gauges {
    store: Store,
    /// `WALLET_RECONCILE_INTERVAL_SECS`; `None` when the schedule is off.
    reconcile_interval: Option<Duration>,
    /// `WALLET_ORPHAN_AFTER_SECS`: how old a bet in an open round is before it is pending.
    pending_after: chrono::Duration,
    last: Mutex<Option<(Instant, String)>>,
}

impl Gauges {
    pub fn new(
        store: Store,
        reconcile_interval: Option<Duration>,
        pending_after: chrono::Duration,
    ) -> Gauges {
        Gauges {
            store,
            reconcile_interval,
            pending_after,
            last: Mutex::new(None),
        }
    }

    /// The gauges in the Prometheus text format, read at most every [`READ_EVERY`]. The
    /// writer's queue and the pools are read each time (they cost nothing).
    pub async fn render(&self) -> String {
        let mut out = String::new();
        {
            let mut last = self.last.lock().await;
            match last.as_ref() {
                Some((at, text)) if at.elapsed() < READ_EVERY => out.push_str(text),
                _ => {
                    let text = self.read(Utc::now()).await;
                    out.push_str(&text);
                    *last = Some((Instant::now(), text));
                }
            }
        }
        self.render_live(&mut out);
        out
    }

    /// The database's figures; on a failed read, only `oncewallet_state_read_success 0`.
    async fn read(&self, now: DateTime<Utc>) -> String {
        let mut out = Text::default();
        let read = tokio::time::timeout(READ_TIMEOUT, DbFigures::read(self.store.reader(), now));
        match read
            .await
            .unwrap_or_else(|_| Err(DbErr::Custom("timed out".into())))
        {
            Ok(state) => {
                self.render_state(&state, &mut out);
                out.gauge(
                    "oncewallet_state_read_success",
                    "1 when this scrape read the database's gauges, 0 when the read failed.",
                    &[(vec![], 1.0)],
                );
            }
            Err(error) => {
                tracing::warn!(%error, "/metrics: reading the database's gauges");
                out.gauge(
                    "oncewallet_state_read_success",
                    "1 when this scrape read the database's gauges, 0 when the read failed.",
                    &[(vec![], 0.0)],
                );
            }
        }
        out.0
    }

    fn render_state(&self, figures: &DbFigures, out: &mut Text) {
        let state = &figures.reconcile;
        let findings: Vec<Sample> = state
            .findings
            .iter()
            .map(|(kind, severity, count)| {
                (
                    vec![("kind", kind.clone()), ("severity", severity.clone())],
                    *count as f64,
                )
            })
            .collect();
        out.gauge(
            "oncewallet_findings_open",
            "Reconciliation findings not resolved (open or acknowledged), by kind and severity.",
            &findings,
        );
        let critical: i64 = state
            .findings
            .iter()
            .filter(|(_, severity, _)| severity == "CRITICAL")
            .map(|(_, _, count)| count)
            .sum();
        out.gauge(
            "oncewallet_findings_critical_open",
            "CRITICAL reconciliation findings not resolved; 0 when there is none.",
            &[(vec![], critical as f64)],
        );
        out.gauge(
            "oncewallet_pending_rollbacks",
            "Committed bets in open rounds past WALLET_ORPHAN_AFTER_SECS that no rollback or \
             win has settled (open PENDING_ROLLBACK findings).",
            &[(vec![], state.pending_rollbacks as f64)],
        );
        out.gauge(
            "oncewallet_pending_rollback_oldest_age_seconds",
            "Age of the oldest pending rollback's bet; 0 when there is none.",
            &[(vec![], seconds(state.oldest_pending_age).max(0.0))],
        );
        out.gauge(
            "oncewallet_pending_rollback_after_seconds",
            "WALLET_ORPHAN_AFTER_SECS: how old a bet in an open round is before it is pending.",
            &[(vec![], seconds(self.pending_after))],
        );
        out.gauge(
            "oncewallet_reconciliation_interval_seconds",
            "WALLET_RECONCILE_INTERVAL_SECS: time between scheduled runs; 0 when off.",
            &[(
                vec![],
                self.reconcile_interval.map_or(0.0, |i| i.as_secs_f64()),
            )],
        );
        out.gauge(
            "oncewallet_reconciliation_last_run_failed",
            "1 when the newest finished reconciliation run failed (the server's log says why).",
            &[(vec![], if state.last_failed { 1.0 } else { 0.0 })],
        );
        Self::render_webhooks(figures, out);
        if let Some(last) = &state.last_run {
            out.gauge(
                "oncewallet_reconciliation_last_finished_timestamp_seconds",
                "When the last reconciliation run that succeeded ended (Unix time).",
                &[(vec![], last.finished_at.timestamp_millis() as f64 / 1000.0)],
            );
            out.gauge(
                "oncewallet_reconciliation_last_duration_seconds",
                "How long the last reconciliation run that succeeded took.",
                &[(vec![], last.duration_ms as f64 / 1000.0)],
            );
            out.gauge(
                "oncewallet_reconciliation_last_critical_findings",
                "CRITICAL findings open when the last reconciliation run that succeeded ended.",
                &[(vec![], last.critical_open as f64)],
            );
        }
    }

    fn render_webhooks(state: &DbFigures, out: &mut Text) {
        let sample = |id: &str, value: f64| (vec![("webhook", id.to_owned())], value);
        let enabled = state.webhooks.iter().filter(|(_, enabled, _)| *enabled);
        let lag: Vec<Sample> = enabled
            .clone()
            .map(|(id, _, stats)| sample(id, stats.oldest_pending_age_seconds))
            .collect();
        out.gauge(
            "oncewallet_outbox_lag_seconds",
            "Per enabled webhook: age of the oldest event not yet acknowledged (0 when none).",
            &lag,
        );
        let pending: Vec<Sample> = enabled
            .map(|(id, _, stats)| sample(id, stats.pending as f64))
            .collect();
        out.gauge(
            "oncewallet_webhook_pending_events",
            "Per enabled webhook: events not acknowledged yet and not dead.",
            &pending,
        );
        let dead: Vec<Sample> = state
            .webhooks
            .iter()
            .map(|(id, _, stats)| sample(id, stats.dead as f64))
            .collect();
        out.gauge(
            "oncewallet_webhook_dead_events",
            "Per webhook: events given up on after the retry period, waiting for a person to \
             redeliver them.",
            &dead,
        );
    }

    /// What this process holds in memory: the writer's queue and the connection pools.
    fn render_live(&self, out: &mut String) {
        let mut text = Text::default();
        text.gauge(
            "oncewallet_write_queue_depth",
            "Money operations and other units waiting for the database writer.",
            &[(vec![], self.store.write_queue_depth() as f64)],
        );
        let pools = self.store.pools();
        let mut open = Vec::new();
        let mut idle = Vec::new();
        let mut max = Vec::new();
        for pool in &pools {
            let labels = vec![("pool", pool.name.to_owned())];
            open.push((labels.clone(), f64::from(pool.open)));
            idle.push((labels.clone(), f64::from(pool.idle)));
            max.push((labels, f64::from(pool.max)));
        }
        text.gauge(
            "oncewallet_db_pool_connections",
            "Database connections open in the pool, busy or idle.",
            &open,
        );
        text.gauge(
            "oncewallet_db_pool_idle_connections",
            "Database connections open in the pool and idle.",
            &idle,
        );
        text.gauge(
            "oncewallet_db_pool_max_connections",
            "The most connections the pool opens.",
            &max,
        );
        out.push_str(&text.0);
    }
}

/// The database's side of the gauges, read in one go.
#[derive(Debug, Default)]
struct DbFigures {
    reconcile: Standing,
    /// Every webhook subscription: id, enabled, delivery stats.
    webhooks: Vec<(String, bool, crate::events::webhooks::DeliveryStats)>,
}

impl DbFigures {
    async fn read(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<DbFigures, DbErr> {
        Ok(DbFigures {
            reconcile: Standing::read(db, now).await?,
            webhooks: crate::events::webhooks::list(db)
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?
                .into_iter()
                .map(|view| (view.webhook_id, view.enabled, view.stats))
                .collect(),
        })
    }
}

fn seconds(duration: chrono::Duration) -> f64 {
    duration.num_milliseconds() as f64 / 1000.0
}

/// One sample: its labels and value.
type Sample = (Vec<(&'static str, String)>, f64);

/// The Prometheus text format, one family at a time.
#[derive(Default)]
struct Text(String);

impl Text {
    /// A gauge family; nothing for a family without samples.
    fn gauge(&mut self, name: &str, help: &str, samples: &[Sample]) {
        if samples.is_empty() {
            return;
        }
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} gauge");
        for (labels, value) in samples {
            self.0.push_str(name);
            if !labels.is_empty() {
                self.0.push('{');
                for (index, (label, value)) in labels.iter().enumerate() {
                    if index > 0 {
                        self.0.push(',');
                    }
                    let _ = write!(self.0, "{label}=\"{}\"", escape(value));
                }
                self.0.push('}');
            }
            let _ = writeln!(self.0, " {value}");
        }
    }
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_written_with_help_type_and_escaped_labels() {
        let mut text = Text::default();
        text.gauge(
            "x_open",
            "Open things.",
            &[(vec![("kind", "a\"b\\c\nd".to_owned())], 2.0)],
        );
        text.gauge("x_none", "Nothing.", &[]);
        assert_eq!(
            text.0,
            "# HELP x_open Open things.\n# TYPE x_open gauge\nx_open{kind=\"a\\\"b\\\\c\\nd\"} 2\n"
        );
    }
}
