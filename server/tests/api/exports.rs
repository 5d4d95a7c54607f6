//! The console's CSV exports of findings, the audit log and pending rollbacks, fetched as
//! the browser fetches them: the header, one row per record, amounts both as a decimal
//! and in minor units, and nothing for a visitor who has not signed in.
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use server::db::entities::wallet_transaction;

use crate::dashboard::{bet_of, Staff};
use crate::helpers::*;

const EXPORTS: [&str; 3] = [
    "/console/findings.csv",
    "/console/audit.csv",
    "/console/pending.csv",
];

/// A CSV download split into records, each a map from the header's names to the cells.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    async fn fetch(staff: &Staff, path: &str) -> Csv {
        let response = staff.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let disposition = response.headers()["content-disposition"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(disposition.starts_with("attachment"), "{disposition}");
        let text = response.text().await.expect("csv");
        assert!(text.ends_with("\r\n"), "RFC 4180 line ends: {text:?}");
        let mut records = parse(&text).into_iter();
        Csv {
            header: records.next().expect("a header"),
            rows: records.collect(),
        }
    }

    fn cell<'a>(&'a self, row: &'a [String], name: &str) -> &'a str {
        let index = self
            .header
            .iter()
            .position(|column| column == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header));
        &row[index]
    }

    /// The one row whose `column` is `value`.
    fn row_where(&self, column: &str, value: &str) -> &[String] {
        let found: Vec<&Vec<String>> = self
            .rows
            .iter()
            .filter(|row| self.cell(row, column) == value)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one row with {column}={value}: {:?}",
            self.rows
        );
        found[0]
    }
}

/// RFC 4180 records: quoted cells may hold commas, quotes (doubled) and line breaks.
fn parse(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut cell) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => cell.push(c),
        }
    }
    records
}

/// A period around now, in RFC 3339.
fn period() -> (String, String) {
    let now = chrono::Utc::now();
    let format = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    (
        format(now - chrono::Duration::hours(1)),
        format(now + chrono::Duration::hours(1)),
    )
}

/// A bet an hour old, past the orphan threshold of a reconciliation run.
async fn orphan_bet(app: &TestApp, player: &TestPlayer, provider: &TestProvider) -> String {
    let bet = bet_of(player, provider, 700).await;
    wallet_transaction::Entity::update_many()
        .col_expr(
            wallet_transaction::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::hours(1)),
        )
        .filter(wallet_transaction::Column::TransactionId.eq(bet.as_str()))
        .exec(&app.db)
        .await
        .expect("age the bet");
    bet
}

#[tokio::test]
async fn the_exports_refuse_a_visitor_who_has_not_signed_in_and_serve_a_support_user() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let support = Staff::with_role(&app, &admin, "support").await;
    for path in EXPORTS {
        let anonymous = app
            .client
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .expect("get");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        let csv = Csv::fetch(&support, path).await;
        assert!(!csv.header.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn a_compressed_export_arrives_whole() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    bet_of(&player, &provider, 100).await;
    for path in [
        format!("/console/export.csv?q={}", player.id),
        "/console/findings.csv".to_owned(),
        "/console/audit.csv".to_owned(),
        "/console/pending.csv".to_owned(),
    ] {
        let plain = admin.get(&path).await.bytes().await.expect("plain body");
        let response = admin
            .client
            .get(format!("{}{path}", app.base_url))
            .header(reqwest::header::COOKIE, &admin.cookie)
            .header(reqwest::header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-encoding"], "gzip", "{path}");
        let gzip = response.bytes().await.expect("the whole compressed body");
        // A gzip member ends with the uncompressed length (RFC 1952, ISIZE): the stream
        // was finished, not cut off.
        assert_eq!(gzip[..2], [0x1f, 0x8b], "{path}");
        let size = u32::from_le_bytes(gzip[gzip.len() - 4..].try_into().expect("4 bytes"));
        assert_eq!(size as usize, plain.len(), "{path}");
    }
}

#[tokio::test]
async fn findings_export_both_sides_amounts_in_decimal_and_minor_units() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 10_000).await;
    let known = bet_of(&player, &provider, 300).await;
    let ghost = unique_id("ghost");
    let (start, end) = period();
    let line = |id: &str, minor: i64| {
        json!({ "transaction_id": id, "op": "BET", "player_id": player.id, "round_id": null,
                "amount": money(minor, "EUR"), "state": "COMMITTED" })
    };
    provider
        .post(
            "/wallet/v1/reconciliation/reports",
            &json!({ "report_id": unique_id("report"), "period_start": start, "period_end": end,
                     "transactions": [line(&known, 1_250), line(&ghost, 500)] }),
        )
        .await
        .assert_ok();

    let csv = Csv::fetch(&admin, "/console/findings.csv").await;
    assert_eq!(
        csv.header,
        [
            "finding_id",
            "kind",
            "severity",
            "status",
            "subject_type",
            "subject_id",
            "provider_id",
            "reported_amount",
            "reported_amount_minor",
            "reported_currency",
            "wallet_amount",
            "wallet_amount_minor",
            "wallet_currency",
            "details",
            "first_seen_at",
            "last_seen_at",
            "acknowledged_by",
            "resolved_by",
            "resolved_at",
            "resolution_note",
        ]
    );
    assert_eq!(csv.rows.len(), 2, "{:?}", csv.rows);
    let mismatch = csv.row_where("subject_id", &format!("{}/{known}", provider.id));
    assert_eq!(csv.cell(mismatch, "kind"), "AMOUNT_MISMATCH");
    assert_eq!(csv.cell(mismatch, "reported_amount"), "12.50");
    assert_eq!(csv.cell(mismatch, "reported_amount_minor"), "1250");
    assert_eq!(csv.cell(mismatch, "reported_currency"), "EUR");
    assert_eq!(csv.cell(mismatch, "wallet_amount"), "3.00");
    assert_eq!(csv.cell(mismatch, "wallet_amount_minor"), "300");
    assert_eq!(csv.cell(mismatch, "wallet_currency"), "EUR");
    assert_eq!(csv.cell(mismatch, "status"), "OPEN");
    let missing = csv.row_where("subject_id", &format!("{}/{ghost}", provider.id));
    assert_eq!(csv.cell(missing, "kind"), "MISSING_IN_WALLET");
    assert_eq!(csv.cell(missing, "reported_amount"), "5.00");
    assert_eq!(csv.cell(missing, "reported_amount_minor"), "500");
    assert_eq!(
        csv.cell(missing, "wallet_amount"),
        "",
        "the wallet has no side"
    );

    // The page's filter applies to the export.
    let filtered = Csv::fetch(&admin, "/console/findings.csv?kind=MISSING_IN_WALLET").await;
    assert_eq!(filtered.rows.len(), 1, "{:?}", filtered.rows);
    assert_eq!(
        filtered.cell(&filtered.rows[0], "kind"),
        "MISSING_IN_WALLET"
    );
}

#[tokio::test]
async fn pending_rollbacks_and_the_audit_of_their_refund_export_with_amounts() {
    let app = spawn_app().await;
    let admin = Staff::admin(&app).await;
    let provider = TestProvider::new(&app).await;
    let player = TestPlayer::with_balance(&provider, "EUR", 5_000).await;
    let bet = orphan_bet(&app, &player, &provider).await;
    let (status, run) = admin.call("run_reconciliation_now", &[]).await;
    assert_eq!(status, StatusCode::OK, "{run}");

    let pending = Csv::fetch(&admin, "/console/pending.csv").await;
    assert_eq!(
        pending.header,
        [
            "finding_id",
            "kind",
            "status",
            "player_id",
            "provider_id",
            "transaction_id",
            "round_id",
            "amount",
            "amount_minor",
            "currency",
            "since",
            "age_seconds",
            "subject_id",
            "details",
        ]
    );
    let row = pending.row_where("transaction_id", &bet);
    assert_eq!(pending.cell(row, "kind"), "PENDING_ROLLBACK");
    assert_eq!(pending.cell(row, "player_id"), player.id);
    assert_eq!(pending.cell(row, "amount"), "7.00");
    assert_eq!(pending.cell(row, "amount_minor"), "700");
    assert_eq!(pending.cell(row, "currency"), "EUR");
    let age: i64 = pending.cell(row, "age_seconds").parse().expect("seconds");
    assert!(age >= 3_600, "an hour old: {age}");
    let finding = pending.cell(row, "finding_id").to_owned();

    let refund = [
        ("finding_id", finding.as_str()),
        ("reason", "lost round, see ticket 7"),
        ("confirmed", "yes"),
    ];
    let (status, answer) = admin.call("refund_orphan", &refund).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let audit = Csv::fetch(&admin, &format!("/console/audit.csv?subject={bet}")).await;
    assert_eq!(
        audit.header,
        [
            "audit_id",
            "at",
            "actor",
            "action",
            "subject_type",
            "subject_id",
            "reason",
            "amount",
            "amount_minor",
            "currency",
            "details",
        ]
    );
    let entry = audit.row_where("action", "REFUND_BET");
    assert_eq!(audit.cell(entry, "actor"), "admin");
    assert_eq!(
        audit.cell(entry, "reason"),
        "lost round, see ticket 7",
        "a comma survives quoting"
    );
    assert_eq!(audit.cell(entry, "amount"), "7.00");
    assert_eq!(audit.cell(entry, "amount_minor"), "700");
    assert_eq!(audit.cell(entry, "currency"), "EUR");
    let details: serde_json::Value =
        serde_json::from_str(audit.cell(entry, "details")).expect("the details as JSON");
    assert!(details["refund_transaction_id"].is_string(), "{details}");

    // Entries about something else carry no amount; the filter narrows the export.
    let everything = Csv::fetch(&admin, "/console/audit.csv").await;
    assert!(
        everything.rows.len() > audit.rows.len(),
        "{:?}",
        everything.rows
    );
    let resolved = Csv::fetch(&admin, "/console/audit.csv?action=discrepancy").await;
    assert_eq!(
        resolved.rows.len(),
        1,
        "the refund resolved its finding: {:?}",
        resolved.rows
    );
    for row in &resolved.rows {
        assert!(resolved.cell(row, "action").starts_with("discrepancy"));
        assert_eq!(resolved.cell(row, "amount_minor"), "");
    }

    let after = Csv::fetch(&admin, "/console/pending.csv").await;
    assert!(
        after
            .rows
            .iter()
            .all(|row| after.cell(row, "transaction_id") != bet),
        "a refunded orphan is no longer pending"
    );
}
