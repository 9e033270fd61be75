//! The edge's storage seam: SQL statements with bound parameters, run by D1 in the Worker
//! (`shim.rs`) and by an in-memory SQLite in native tests, so the very same SQL (and the
//! migration in `migrations/`) is exercised by `cargo test`.
//!
//! Values are only ever bound as parameters, never formatted into SQL.

use serde_json::{Map, Value};

/// A bound parameter. D1 has no 64-bit integers (JS numbers), so integers stay below 2^53.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<u64> for SqlValue {
    fn from(v: u64) -> Self {
        SqlValue::Integer(v.min(i64::MAX as u64) as i64)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// One result row, by column name (D1 returns rows as objects).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row(pub Map<String, Value>);

impl Row {
    pub fn text(&self, column: &str) -> Option<String> {
        match self.0.get(column)? {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// Integers arrive from D1 as JS numbers; accept whole floats too.
    pub fn int(&self, column: &str) -> Option<u64> {
        let v = self.0.get(column)?;
        v.as_u64()
            .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
    }
}

/// A failed statement. The message comes from D1/SQLite and never holds a bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

/// SQL storage. The Worker is single-threaded, so futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Runs a statement that returns no rows (INSERT, UPDATE, DELETE).
    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), StoreError>;
    /// Runs a statement and returns its rows (SELECT, or any statement with RETURNING).
    async fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError>;
}

/// The schema, for tests (deployments apply `migrations/` with wrangler).
#[cfg(test)]
pub const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_vercel.sql"),
    include_str!("../migrations/0002_sign_in_failure.sql"),
    include_str!("../migrations/0003_agents.sql"),
    include_str!("../migrations/0004_vercel_sign_in_failure.sql"),
];

#[cfg(test)]
pub mod memory {
    //! An in-memory SQLite with the migrations applied: the test double for D1.

    use std::sync::Mutex;

    use rusqlite::types::{ToSqlOutput, ValueRef};
    use rusqlite::{Connection, ToSql};

    use super::*;

    pub struct MemoryStore(pub Mutex<Connection>);

    impl Default for MemoryStore {
        fn default() -> Self {
            let conn = Connection::open_in_memory().unwrap();
            for m in MIGRATIONS {
                conn.execute_batch(m).unwrap();
            }
            Self(Mutex::new(conn))
        }
    }

    impl MemoryStore {
        /// Runs raw SQL in a test (to age a row, or to look at what is stored).
        pub fn sql(&self, sql: &str) -> Vec<Row> {
            run(&self.0.lock().unwrap(), sql, &[]).unwrap()
        }
    }

    impl ToSql for SqlValue {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            Ok(match self {
                SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
                SqlValue::Integer(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
                SqlValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            })
        }
    }

    fn run(conn: &Connection, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        let err = |e: rusqlite::Error| StoreError(e.to_string());
        let mut stmt = conn.prepare(sql).map_err(err)?;
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut map = Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match row.get_ref(i).map_err(err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::from(n),
                    ValueRef::Real(f) => Value::from(f),
                    ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(_) => Value::Null,
                };
                map.insert(name.clone(), v);
            }
            out.push(Row(map));
        }
        Ok(out)
    }

    impl Store for MemoryStore {
        async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), StoreError> {
            run(&self.0.lock().unwrap(), sql, params).map(|_| ())
        }

        async fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
            run(&self.0.lock().unwrap(), sql, params)
        }
    }
}
