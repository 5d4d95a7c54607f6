//! SQL text built for a batch: multi-row statements whose placeholders are numbered as
//! their values are added, on either engine.
use sea_orm::{DbBackend, Statement, Value};

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
    pub fn row(&mut self, values: impl IntoIterator<Item = Value>) -> String {
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

    /// `VALUES (…), (…)` for `rows`, with their values added, to be placed in the text
    /// before any value added later.
    pub fn values_text<R, I>(
        &mut self,
        rows: impl IntoIterator<Item = R>,
        to_row: impl Fn(R) -> I,
    ) -> String
    where
        I: IntoIterator<Item = Value>,
    {
        let rows: Vec<String> = rows.into_iter().map(|r| self.row(to_row(r))).collect();
        format!("VALUES {}", rows.join(", "))
    }

    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
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
