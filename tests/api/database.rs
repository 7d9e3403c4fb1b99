//! Connecting: a wrong or unreachable database URL is one clear line, never a created file; the
//! hand-written `schema.rs` matches both migration folders.

use bazaar::config::DatabaseConfig;
use bazaar::db::Db;
use bazaar::db::schema::{
    addresses, audit_log, cart_lines, carts, categories, discount_codes, email_verifications,
    order_events, order_lines, orders, password_resets, payments, product_images, products,
    provider_events, reviews, sessions, users, variants,
};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::helpers::spawn_app;

fn connect(url: &str) -> anyhow::Result<Db> {
    Db::connect(&DatabaseConfig {
        database_url: url.into(),
        pool_size: Some(1),
        pool_timeout_secs: 1,
        pg_plan_cache_mode: bazaar::config::PlanCacheMode::ForceGenericPlan,
        statement_timeout: None,
        sealing_keys: Some(crate::helpers::TEST_SEALING_KEYS.into()),
    })
}

fn message(result: anyhow::Result<Db>) -> String {
    match result {
        Ok(_) => panic!("connected"),
        Err(error) => format!("{error:#}"),
    }
}

#[test]
fn wrong_urls_fail_with_one_clear_line() {
    let cases = [
        ("mysql://root@localhost/shop", "unsupported database URL"),
        ("postgress://localhost/shop", "unsupported database URL"),
        ("shop.db", "unsupported database URL"),
        ("sqlite://", "no file path"),
        (
            "sqlite:///no/such/dir/shop.db",
            "cannot connect to sqlite:///no/such/dir/shop.db",
        ),
        (
            "postgres://nobody:secret@127.0.0.1:1/shop",
            "cannot connect to postgres://nobody:***@127.0.0.1:1/shop",
        ),
    ];
    for (url, expected) in cases {
        let text = message(connect(url));
        assert!(text.contains(expected), "{url}: {text}");
        assert!(!text.contains('\n'), "one line: {text:?}");
        assert!(!text.contains("secret"), "no password: {text}");
    }
    // A bare file name is refused before anything touches the disk. (Checked in a child
    // process: changing this process's directory would pull it from under the other tests.)
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .arg("migrate")
        .env("DATABASE_URL", "shop.db")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "no file was created: {left:?}");
}

#[test]
fn the_binary_reports_a_wrong_url_and_exits_non_zero() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .arg("migrate")
        .env("DATABASE_URL", "postgresql://127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("bazaar:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("cannot connect to postgresql://127.0.0.1:1/none"),
        "{stderr}"
    );
}

#[derive(QueryableByName)]
struct ColumnName {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[actix_web::test]
async fn schema_rs_matches_the_migrated_database() {
    let app = spawn_app().await;
    macro_rules! declared {
        ($table:ident) => {
            declared_columns(
                diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                    &$table::table.select($table::all_columns),
                )
                .to_string(),
            )
        };
    }
    let expected: Vec<(&str, Vec<&str>)> = vec![
        ("categories", declared!(categories)),
        ("products", declared!(products)),
        ("variants", declared!(variants)),
        ("product_images", declared!(product_images)),
        ("users", declared!(users)),
        ("sessions", declared!(sessions)),
        ("password_resets", declared!(password_resets)),
        ("addresses", declared!(addresses)),
        ("discount_codes", declared!(discount_codes)),
        ("carts", declared!(carts)),
        ("cart_lines", declared!(cart_lines)),
        ("orders", declared!(orders)),
        ("order_lines", declared!(order_lines)),
        ("order_events", declared!(order_events)),
        ("payments", declared!(payments)),
        ("reviews", declared!(reviews)),
        ("provider_events", declared!(provider_events)),
        ("email_verifications", declared!(email_verifications)),
        ("audit_log", declared!(audit_log)),
    ];
    let postgres = app.database_url.starts_with("postgres");
    for (table, columns) in expected {
        let mut actual: Vec<String> = app
            .db
            .run_blocking(move |conn| {
                let query = if postgres {
                    "SELECT column_name::text AS name FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1"
                } else {
                    "SELECT name FROM pragma_table_info(?)"
                };
                Ok(diesel::sql_query(query)
                    .bind::<Text, _>(table)
                    .load::<ColumnName>(conn)?)
            })
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        actual.sort();
        let mut columns: Vec<String> = columns.into_iter().map(str::to_owned).collect();
        columns.sort();
        assert_eq!(actual, columns, "columns of {table}");
    }
    // And every declared column can be selected with its declared type.
    let count = app
        .db
        .run_blocking(|conn| {
            let _: Vec<(i64, i64, i64, i64)> = categories::table
                .inner_join(products::table.inner_join(variants::table))
                .inner_join(product_images::table.on(product_images::product_id.eq(products::id)))
                .select((
                    categories::id,
                    products::id,
                    variants::id,
                    product_images::id,
                ))
                .limit(1)
                .load(conn)?;
            Ok(diesel::sql_query("SELECT COUNT(*) AS count FROM products")
                .get_result::<Count>(conn)?)
        })
        .unwrap();
    assert!(count.count > 0);
}

/// The column names `schema.rs` declares for a table, read off the SQL diesel writes for it.
fn declared_columns(select_all_sql: String) -> Vec<&'static str> {
    let columns = select_all_sql
        .split_once("SELECT ")
        .and_then(|(_, rest)| rest.split_once(" FROM"))
        .map(|(columns, _)| columns.to_owned())
        .expect("a SELECT statement");
    columns
        .split(", ")
        .map(|column| column.rsplit('.').next().unwrap().trim_matches('`'))
        .map(|name| &*Box::leak(name.to_owned().into_boxed_str()))
        .collect()
}
