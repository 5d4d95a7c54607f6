//! Raw SQL that runs on both engines. The checks are aggregate queries that SeaORM's
//! builder cannot say well, so they are written once with `?` placeholders and numbered
//! for PostgreSQL here.
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

/// A statement with `?` placeholders, numbered `$1…` on PostgreSQL. The SQL must not
/// contain `?` anywhere else.
pub fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => {
            let mut numbered = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    numbered.push_str(&format!("${n}"));
                } else {
                    numbered.push(c);
                }
            }
            numbered
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

pub async fn query(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, sea_orm::DbErr> {
    db.query_all(statement(db.get_database_backend(), sql, values))
        .await
}
