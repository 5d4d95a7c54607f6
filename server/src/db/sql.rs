//! SQL text built for a batch: multi-row statements whose placeholders are numbered as
//! their values are added, on either engine.
use sea_orm::{ActiveModelTrait, ActiveValue, DbBackend, EntityName, Iterable, Statement, Value};

/// A statement being built: text with placeholders and their values, which are added in
/// the order they appear in the text.
pub struct Sql {
    backend: DbBackend,
    pub text: String,
    pub values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DbBackend, text: &str) -> Sql {
        Sql {
            backend,
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    /// Adds a value and returns its placeholder: `$n` on PostgreSQL, a bare `?` on
    /// SQLite. (The driver looks each numbered `?n` up by name in a list, which made
    /// binding a batch's thousand values quadratic; bare ones bind by position.)
    pub fn param(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// `($1, $2, …)` for one row of values.
    fn row(&mut self, values: impl IntoIterator<Item = Value>) -> String {
        let placeholders: Vec<String> = values.into_iter().map(|value| self.param(value)).collect();
        format!("({})", placeholders.join(", "))
    }

    /// Appends `VALUES (…), (…)` for `rows`.
    pub fn values<R, I>(&mut self, rows: impl IntoIterator<Item = R>, to_row: impl Fn(R) -> I)
    where
        I: IntoIterator<Item = Value>,
    {
        let text = self.values_text(rows, to_row);
        self.text.push_str(&text);
    }

    /// `rows` as a query of columns `column1, column2, …`, with their values added, to be
    /// placed in the text before any value added later: `VALUES (…), (…)` on SQLite; on
    /// PostgreSQL one array per column (see [`Sql::unnest`]).
    pub fn values_text<R, I>(
        &mut self,
        rows: impl IntoIterator<Item = R>,
        to_row: impl Fn(R) -> I,
    ) -> String
    where
        I: IntoIterator<Item = Value>,
    {
        let rows: Vec<Vec<Value>> = rows
            .into_iter()
            .map(|r| to_row(r).into_iter().collect())
            .collect();
        if self.backend == DbBackend::Postgres {
            if let Some(columns) = pg_arrays(&rows) {
                return self.unnest(columns);
            }
        }
        let rows: Vec<String> = rows.into_iter().map(|r| self.row(r)).collect();
        format!("VALUES {}", rows.join(", "))
    }

    /// PostgreSQL: `SELECT * FROM unnest($1::int8[], $2::text[], …) AS v(column1, …)`, one
    /// array parameter per column, so that the text is the same whatever the number of
    /// rows: the statement is parsed and planned once per connection instead of once per
    /// batch (planning the batches' statements was a fifth of PostgreSQL's work;
    /// docs/PERFORMANCE.md). Each array is sent as text in PostgreSQL's array syntax.
    fn unnest(&mut self, columns: Vec<(&'static str, String)>) -> String {
        let names: Vec<String> = (1..=columns.len()).map(|i| format!("column{i}")).collect();
        let arrays: Vec<String> = columns
            .into_iter()
            .map(|(pg_type, literal)| format!("{}::{pg_type}[]", self.param(literal)))
            .collect();
        format!(
            "SELECT * FROM unnest({}) AS v({})",
            arrays.join(", "),
            names.join(", ")
        )
    }

    /// A membership test for `texts`: `IN (?, ?, …)` on SQLite, `= ANY($n::text[])` on
    /// PostgreSQL, one parameter whatever their number (see [`Sql::unnest`]).
    pub fn in_list<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) -> String {
        if self.backend != DbBackend::Postgres {
            let params: Vec<String> = texts.into_iter().map(|text| self.param(text)).collect();
            return format!("IN ({})", params.join(", "));
        }
        let mut literal = String::from("{");
        for (i, text) in texts.into_iter().enumerate() {
            if i > 0 {
                literal.push(',');
            }
            push_quoted(&mut literal, text);
        }
        literal.push('}');
        format!("= ANY({}::text[])", self.param(literal))
    }

    /// [`Sql::in_list`] for ids: `IN (?, ?, …)` on SQLite, `= ANY($n::bigint[])` on
    /// PostgreSQL, so that one prepared statement serves every number of ids.
    pub fn id_list(&mut self, ids: &[i64]) -> String {
        if self.backend != DbBackend::Postgres {
            let params: Vec<String> = ids.iter().map(|id| self.param(*id)).collect();
            return format!("IN ({})", params.join(", "));
        }
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        format!(
            "= ANY({}::bigint[])",
            self.param(format!("{{{}}}", list.join(",")))
        )
    }

    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// `INSERT` of `models` as one statement, like sea-orm's `insert_many` but of the same
/// text whatever their number on PostgreSQL (see [`Sql::unnest`]). The columns are those
/// set in the first model; every model must set the same ones.
pub fn insert_many<A: ActiveModelTrait>(backend: DbBackend, models: Vec<A>) -> Option<Statement> {
    let first = models.first()?;
    let columns: Vec<_> = <A::Entity as sea_orm::EntityTrait>::Column::iter()
        .filter(|column| first.get(*column).is_set())
        .collect();
    let names: Vec<String> = columns
        .iter()
        .map(|column| sea_orm::IdenStatic::as_str(column).to_owned())
        .collect();
    let mut sql = Sql::new(
        backend,
        &format!(
            "INSERT INTO {} ({}) ",
            A::Entity::default().table_name(),
            names.join(", ")
        ),
    );
    sql.values(models, |model| {
        columns
            .iter()
            .map(|column| match model.get(*column) {
                ActiveValue::Set(value) | ActiveValue::Unchanged(value) => value,
                ActiveValue::NotSet => Value::String(None),
            })
            .collect::<Vec<_>>()
    });
    Some(sql.statement())
}

/// Each column of `rows` as PostgreSQL's array type and the array's text, or `None` for
/// no rows or a value of a type not written here (the caller then sends `VALUES`).
fn pg_arrays(rows: &[Vec<Value>]) -> Option<Vec<(&'static str, String)>> {
    let first = rows.first()?;
    let mut columns: Vec<(&'static str, String)> = first
        .iter()
        .map(|value| pg_type(value).map(|pg_type| (pg_type, String::from("{"))))
        .collect::<Option<_>>()?;
    for (r, row) in rows.iter().enumerate() {
        if row.len() != columns.len() {
            return None;
        }
        for ((pg_type, literal), value) in columns.iter_mut().zip(row) {
            if pg_type != &pg_type_or_none(value) {
                return None;
            }
            if r > 0 {
                literal.push(',');
            }
            push_element(literal, value);
        }
    }
    for (_, literal) in &mut columns {
        literal.push('}');
    }
    Some(columns)
}

fn pg_type(value: &Value) -> Option<&'static str> {
    Some(match value {
        Value::String(_) => "text",
        Value::BigInt(_) => "int8",
        Value::Int(_) => "int4",
        Value::Bool(_) => "bool",
        Value::ChronoDateTimeUtc(_) => "timestamptz",
        Value::Bytes(_) => "bytea",
        _ => return None,
    })
}

fn pg_type_or_none(value: &Value) -> &'static str {
    pg_type(value).unwrap_or("")
}

/// One array element in PostgreSQL's array syntax: `NULL`, or the value quoted.
/// Times are written to the microsecond, truncated, as the driver sends them in binary.
fn push_element(literal: &mut String, value: &Value) {
    match value {
        Value::String(Some(text)) => push_quoted(literal, text),
        Value::BigInt(Some(n)) => literal.push_str(&n.to_string()),
        Value::Int(Some(n)) => literal.push_str(&n.to_string()),
        Value::Bool(Some(b)) => literal.push_str(if *b { "t" } else { "f" }),
        Value::ChronoDateTimeUtc(Some(at)) => {
            literal.push('"');
            literal.push_str(&at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
            literal.push('"');
        }
        // bytea's hex input, `\x…`; the array syntax wants its backslash escaped.
        Value::Bytes(Some(bytes)) => {
            literal.push_str("\"\\\\x");
            literal.push_str(&hex::encode(bytes.as_slice()));
            literal.push('"');
        }
        _ => literal.push_str("NULL"),
    }
}

fn push_quoted(literal: &mut String, text: &str) {
    literal.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            literal.push('\\');
        }
        literal.push(c);
    }
    literal.push('"');
}

/// How a write's rows become statements: all in one on PostgreSQL, where every statement
/// is a round trip; one per row on SQLite, where a statement costs microseconds on the
/// writer's own connection and a one-row statement's text is the same for every row, so
/// it stays prepared (a multi-row statement's text changes with the batch's size and is
/// parsed again each time). The batch's reads stay one statement per kind on both: read
/// one row at a time they were slower (a load of 31 bets 1.2 ms against 0.8–1.0 ms).
pub fn statements_of<R>(backend: DbBackend, rows: Vec<R>) -> Vec<Vec<R>> {
    if rows.is_empty() {
        return Vec::new();
    }
    match backend {
        DbBackend::Postgres => vec![rows],
        _ => rows.into_iter().map(|row| vec![row]).collect(),
    }
}

/// `$n` placeholders moved up by `offset`.
pub fn renumber(text: &str, offset: usize) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn rows_become_one_array_per_column_in_postgres_syntax() {
        let at = Utc.timestamp_opt(1_764_979_200, 123_456_789).unwrap();
        let rows = vec![
            vec![
                Value::from(1_i64),
                Value::from("a \"quoted\" back\\slash, {brace}"),
                Value::from(true),
                Value::from(at),
            ],
            vec![
                Value::BigInt(None),
                Value::from("NULL"),
                Value::Bool(None),
                Value::ChronoDateTimeUtc(None),
            ],
        ];
        let columns = pg_arrays(&rows).expect("supported types");
        assert_eq!(
            columns,
            vec![
                ("int8", "{1,NULL}".to_owned()),
                (
                    "text",
                    r#"{"a \"quoted\" back\\slash, {brace}","NULL"}"#.to_owned()
                ),
                ("bool", "{t,NULL}".to_owned()),
                // Truncated to the microsecond, as the driver sends times.
                (
                    "timestamptz",
                    r#"{"2025-12-06T00:00:00.123456Z",NULL}"#.to_owned()
                ),
            ]
        );

        let mut sql = Sql::new(DbBackend::Postgres, "INSERT INTO t (a, b) ");
        sql.values(&[(1_i64, "x"), (2, "y")], |(a, b)| {
            [Value::from(*a), Value::from(*b)]
        });
        assert_eq!(
            sql.text,
            "INSERT INTO t (a, b) SELECT * FROM unnest($1::int8[], $2::text[]) AS v(column1, column2)"
        );
        assert_eq!(sql.values.len(), 2);
    }

    #[test]
    fn a_column_of_mixed_types_falls_back_to_values() {
        let rows = vec![vec![Value::from(1_i64)], vec![Value::from("x")]];
        assert!(pg_arrays(&rows).is_none());
        let mut sql = Sql::new(DbBackend::Sqlite, "");
        let text = sql.in_list(["a", "b"]);
        assert_eq!(text, "IN (?, ?)");
    }
}
