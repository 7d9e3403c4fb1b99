//! The staff audit log: entries written in the same transaction as the change they record, and
//! read newest first by admins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::audit_log;
use crate::domain::paging::IdWindow;
use crate::newest_first_window;

/// An audit entry.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: i64,
    pub details: String,
    pub created_at: NaiveDateTime,
}

/// An entry to write.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub struct NewAuditEntry<'a> {
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: i64,
    pub details: &'a str,
    pub created_at: NaiveDateTime,
}

/// Writes an entry.
pub fn insert(conn: &mut DbConnection, entry: &NewAuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)?;
    Ok(())
}

/// One window of entries, newest first.
pub fn page(conn: &mut DbConnection, window: &IdWindow) -> QueryResult<Vec<AuditEntry>> {
    newest_first_window!(
        audit_log::table
            .select(AuditEntry::as_select())
            .into_boxed(),
        audit_log::id,
        window
    )
    .load(conn)
}
