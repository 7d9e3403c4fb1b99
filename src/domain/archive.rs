//! The portable archive's rules: the canonical JSON of each column type, a row as one JSON line,
//! and the manifest (format, schema version, row counts and SHA-256 per table file) with the
//! checks an archive must pass before anything is written from it.
//!
//! One encoding per type, whatever the database, so the same data exported from SQLite and from
//! PostgreSQL gives byte-identical table files:
//!
//! | column type | JSON |
//! |---|---|
//! | `BIGINT`, `INTEGER` (ids, money in minor units, counts) | a number: `1999` |
//! | `BOOLEAN` (SQLite's 0/1) | `true` / `false` |
//! | `TEXT` (JSON documents stored as text too) | a string, the text as stored |
//! | `TIMESTAMP` (UTC) | `"2026-12-02T10:11:12.123456Z"`: always six fractional digits |
//! | binary (none yet) | a string, standard base64 with padding |
//! | `NULL` | `null` |
//!
//! Timestamps keep microseconds, PostgreSQL's precision: a SQLite value's further digits are
//! cut (never rounded). Money is integer minor units everywhere, so there is no decimal type;
//! JSON held in text columns is written as the string the database holds, never re-encoded.
//! A row is an object whose keys are the table's columns in `schema.rs` order.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What `manifest.json`'s `format` says.
pub const FORMAT: &str = "bazaar-archive";

/// The version of the archive format this Bazaar writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest's file name in an archive.
pub const MANIFEST_FILE: &str = "manifest.json";

/// How a timestamp is written: RFC 3339 in UTC, microseconds.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// A column value with one canonical JSON form.
pub trait Portable: Sized {
    /// Appends the value's canonical JSON to `out`.
    fn write_json(&self, out: &mut Vec<u8>);

    /// Reads a value from its JSON; says why not.
    fn read_json(value: Value) -> Result<Self, String>;

    /// The value as a sequence position, for keys that an id sequence hands out.
    fn position(&self) -> Option<i64> {
        None
    }
}

impl Portable for i64 {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_string().as_bytes());
    }

    fn read_json(value: Value) -> Result<Self, String> {
        value
            .as_i64()
            .ok_or_else(|| format!("expected a 64-bit integer, found {}", brief(&value)))
    }

    fn position(&self) -> Option<i64> {
        Some(*self)
    }
}

impl Portable for i32 {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.to_string().as_bytes());
    }

    fn read_json(value: Value) -> Result<Self, String> {
        value
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| format!("expected a 32-bit integer, found {}", brief(&value)))
    }

    fn position(&self) -> Option<i64> {
        Some(i64::from(*self))
    }
}

impl Portable for bool {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }

    fn read_json(value: Value) -> Result<Self, String> {
        value
            .as_bool()
            .ok_or_else(|| format!("expected true or false, found {}", brief(&value)))
    }
}

impl Portable for String {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_string(self, out);
    }

    fn read_json(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Ok(text),
            other => Err(format!("expected a string, found {}", brief(&other))),
        }
    }
}

impl Portable for NaiveDateTime {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_string(&self.format(TIMESTAMP_FORMAT).to_string(), out);
    }

    fn read_json(value: Value) -> Result<Self, String> {
        let wrong = |value: &Value| {
            format!(
                "expected a timestamp like \"2026-12-02T10:11:12.123456Z\", found {}",
                brief(value)
            )
        };
        let Value::String(text) = &value else {
            return Err(wrong(&value));
        };
        NaiveDateTime::parse_from_str(text, TIMESTAMP_FORMAT)
            .ok()
            // Exactly the canonical form: a file that parses must also re-export byte for byte.
            .filter(|at| at.format(TIMESTAMP_FORMAT).to_string() == *text)
            .ok_or_else(|| wrong(&value))
    }
}

impl Portable for Vec<u8> {
    fn write_json(&self, out: &mut Vec<u8>) {
        use base64::Engine as _;
        write_string(&base64::engine::general_purpose::STANDARD.encode(self), out);
    }

    fn read_json(value: Value) -> Result<Self, String> {
        use base64::Engine as _;
        value
            .as_str()
            .and_then(|text| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .ok_or_else(|| format!("expected base64, found {}", brief(&value)))
    }
}

impl<T: Portable> Portable for Option<T> {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
    }

    fn read_json(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            value => T::read_json(value).map(Some),
        }
    }

    fn position(&self) -> Option<i64> {
        self.as_ref().and_then(T::position)
    }
}

/// A JSON string (serde_json's escaping: `"`, `\` and control characters; UTF-8 as is).
fn write_string(text: &str, out: &mut Vec<u8>) {
    // Writing a `&str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// A value, shortened for an error message.
fn brief(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 40 {
        let mut end = 40;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// A row of values: one JSON line, an object keyed by column name in column order.
pub trait PortableRow: Sized {
    /// Appends the row's line (without the newline) to `out`; `names` are its columns.
    fn write_json(&self, names: &[&str], out: &mut Vec<u8>);

    /// Reads a row from a line's object: every column present, no other.
    fn read_json(object: Map<String, Value>, names: &[&str]) -> Result<Self, String>;
}

/// Implements [`PortableRow`] for a tuple of [`Portable`]s.
macro_rules! portable_row {
    ($($value:ident $index:tt)+) => {
        impl<$($value: Portable),+> PortableRow for ($($value,)+) {
            fn write_json(&self, names: &[&str], out: &mut Vec<u8>) {
                out.push(b'{');
                $(
                    if $index > 0 {
                        out.push(b',');
                    }
                    write_string(names[$index], out);
                    out.push(b':');
                    self.$index.write_json(out);
                )+
                out.push(b'}');
            }

            fn read_json(mut object: Map<String, Value>, names: &[&str]) -> Result<Self, String> {
                let row = ($(
                    {
                        let name = names[$index];
                        let value = object
                            .remove(name)
                            .ok_or_else(|| format!("column {name} is missing"))?;
                        $value::read_json(value).map_err(|e| format!("column {name}: {e}"))?
                    },
                )+);
                match object.keys().next() {
                    Some(unknown) => Err(format!("unknown column {unknown}")),
                    None => Ok(row),
                }
            }
        }
    };
}

/// Calls `$m!` for every prefix of the list: tuples of 1, 2, … up to all of them.
macro_rules! for_each_tuple {
    ($m:ident; $($list:tt)+) => {
        for_each_tuple!(@step $m; []; $($list)+);
    };
    (@step $m:ident; [$($done:tt)*]; $value:ident $index:tt $($rest:tt)*) => {
        $m!($($done)* $value $index);
        for_each_tuple!(@step $m; [$($done)* $value $index]; $($rest)*);
    };
    (@step $m:ident; [$($done:tt)*];) => {};
}
pub(crate) use for_each_tuple;

// Up to 32 columns, as diesel's `32-column-tables`.
for_each_tuple!(portable_row;
    A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12 N 13 O 14 P 15
    Q 16 R 17 S 18 T 19 U 20 V 21 W 22 X 23 Y 24 Z 25 AA 26 AB 27 AC 28 AD 29 AE 30 AF 31);

/// Reads one line of a table file as a row.
pub fn read_line<R: PortableRow>(line: &[u8], names: &[&str]) -> Result<R, String> {
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(object)) => R::read_json(object, names),
        Ok(other) => Err(format!("expected a JSON object, found {}", brief(&other))),
        Err(error) => Err(format!("not JSON: {error}")),
    }
}

/// `manifest.json`: what an archive holds and how to check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The archive format's version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The database's latest migration when exported (`20261202000015`); an archive is
    /// imported only by a Bazaar whose latest migration is the same.
    pub schema_version: String,
    /// The Bazaar that wrote it.
    pub bazaar_version: String,
    /// When the export began (UTC).
    pub started_at: String,
    /// How long the export took, in seconds.
    pub seconds: f64,
    /// Every table, in load order (a table comes after those it refers to).
    pub tables: Vec<TableFile>,
}

/// One table's file in an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFile {
    /// The table.
    pub name: String,
    /// Its file in the archive: `<name>.jsonl`.
    pub file: String,
    /// Rows (lines) in the file.
    pub rows: u64,
    /// Bytes in the file.
    pub bytes: u64,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
}

/// What a table file holds, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// Lines.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256.
    pub sha256: [u8; 32],
}

/// The file of `table` in an archive.
pub fn table_file(table: &str) -> String {
    format!("{table}.jsonl")
}

impl TableFile {
    /// The manifest entry of `table`'s file with `digest`.
    pub fn new(table: &str, digest: Digest) -> Self {
        Self {
            name: table.to_owned(),
            file: table_file(table),
            rows: digest.rows,
            bytes: digest.bytes,
            sha256: hex::encode(digest.sha256),
        }
    }

    /// Whether the file read as `digest` is the one the manifest describes; else why not.
    pub fn check(&self, digest: Digest) -> Result<(), String> {
        let sha256 = hex::encode(digest.sha256);
        if sha256 != self.sha256 {
            return Err(format!(
                "{}: SHA-256 {sha256} is not the manifest's {}: the archive was changed or damaged",
                self.file, self.sha256
            ));
        }
        if digest.rows != self.rows || digest.bytes != self.bytes {
            return Err(format!(
                "{}: {} rows in {} bytes, the manifest says {} rows in {} bytes",
                self.file, digest.rows, digest.bytes, self.rows, self.bytes
            ));
        }
        Ok(())
    }
}

impl Manifest {
    /// Reads a manifest, checking first that it is one of a format this Bazaar reads.
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| format!("{MANIFEST_FILE} is not JSON: {e}"))?;
        if value["format"] != FORMAT {
            return Err(format!(
                "{MANIFEST_FILE} is not a Bazaar archive's manifest"
            ));
        }
        match value["format_version"].as_u64() {
            Some(version) if version == u64::from(FORMAT_VERSION) => {}
            Some(version) => {
                return Err(format!(
                    "archive format version {version}; this Bazaar reads version {FORMAT_VERSION}"
                ));
            }
            None => return Err(format!("{MANIFEST_FILE} has no format_version")),
        }
        serde_json::from_value(value).map_err(|e| format!("{MANIFEST_FILE}: {e}"))
    }

    /// Whether this archive can be loaded by a Bazaar at `schema_version` whose tables are
    /// `tables` (in load order); else why not, in one line.
    pub fn check(&self, schema_version: &str, tables: &[&str]) -> Result<(), String> {
        if self.schema_version != schema_version {
            return Err(format!(
                "the archive is of schema version {} (written by Bazaar {}), this Bazaar's is \
                 {schema_version}: import it with a Bazaar of the same schema version",
                self.schema_version, self.bazaar_version
            ));
        }
        let named: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
        if let Some(missing) = tables.iter().find(|t| !named.contains(t)) {
            return Err(format!("the archive has no table {missing}"));
        }
        if let Some(unknown) = named.iter().find(|t| !tables.contains(t)) {
            return Err(format!(
                "the archive has a table {unknown} that this Bazaar does not know"
            ));
        }
        if named.len() != tables.len() {
            return Err("the archive names a table twice".to_owned());
        }
        if let Some(odd) = self.tables.iter().find(|t| t.file != table_file(&t.name)) {
            return Err(format!(
                "table {} is in a file named {:?}",
                odd.name, odd.file
            ));
        }
        Ok(())
    }

    /// The entry of `table`.
    pub fn table(&self, table: &str) -> Option<&TableFile> {
        self.tables.iter().find(|t| t.name == table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode<T: Portable>(value: T) -> String {
        let mut out = Vec::new();
        value.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_type_has_one_canonical_form() {
        assert_eq!(encode(-9_007_199_254_740_993_i64), "-9007199254740993");
        assert_eq!(encode(7_i32), "7");
        assert_eq!(encode(true), "true");
        assert_eq!(
            encode(String::from("a \"b\"\n\u{1}é/")),
            r#""a \"b\"\n\u0001é/""#
        );
        assert_eq!(encode(None::<i64>), "null");
        assert_eq!(encode(vec![0_u8, 255, 1]), r#""AP8B""#);
        let at: NaiveDateTime = "2026-12-02T10:11:12.123456789".parse().unwrap();
        assert_eq!(
            encode(at),
            r#""2026-12-02T10:11:12.123456Z""#,
            "cut, not rounded"
        );
        let whole: NaiveDateTime = "2026-12-02T10:11:12".parse().unwrap();
        assert_eq!(encode(whole), r#""2026-12-02T10:11:12.000000Z""#);
    }

    #[test]
    fn values_read_back_as_written() {
        let at: NaiveDateTime = "0001-01-01T00:00:00.000001".parse().unwrap();
        assert_eq!(
            NaiveDateTime::read_json(json!("0001-01-01T00:00:00.000001Z")),
            Ok(at)
        );
        assert_eq!(i64::read_json(json!(i64::MIN)), Ok(i64::MIN));
        assert_eq!(Option::<i32>::read_json(json!(null)), Ok(None));
        assert_eq!(Vec::<u8>::read_json(json!("AP8B")), Ok(vec![0, 255, 1]));
        for (bad, why) in [
            (i64::read_json(json!(1.5)).err(), "64-bit integer"),
            (i64::read_json(json!("1")).err(), "64-bit integer"),
            (i32::read_json(json!(1_i64 << 40)).err(), "32-bit integer"),
            (bool::read_json(json!(1)).err(), "true or false"),
            (String::read_json(json!(null)).err(), "a string"),
            (
                NaiveDateTime::read_json(json!("2026-12-02 10:11:12")).err(),
                "timestamp",
            ),
            (
                NaiveDateTime::read_json(json!("2026-12-02T10:11:12.1Z")).err(),
                "timestamp",
            ),
            (Vec::<u8>::read_json(json!("%%")).err(), "base64"),
        ] {
            assert!(bad.as_deref().is_some_and(|e| e.contains(why)), "{bad:?}");
        }
    }

    #[test]
    fn a_row_is_an_object_in_column_order() {
        let names = ["id", "name", "deleted_at"];
        let row = (3_i64, String::from("Mugs"), None::<NaiveDateTime>);
        let mut line = Vec::new();
        row.write_json(&names, &mut line);
        assert_eq!(line, br#"{"id":3,"name":"Mugs","deleted_at":null}"#);
        let back: (i64, String, Option<NaiveDateTime>) = read_line(&line, &names).unwrap();
        assert_eq!(back, row);
        let missing = read_line::<(i64, String, Option<NaiveDateTime>)>(br#"{"id":3}"#, &names);
        assert_eq!(missing.unwrap_err(), "column name is missing");
        let extra = read_line::<(i64,)>(br#"{"id":3,"x":1}"#, &["id"]);
        assert_eq!(extra.unwrap_err(), "unknown column x");
        assert!(
            read_line::<(i64,)>(b"[3]", &["id"])
                .unwrap_err()
                .contains("object")
        );
        assert!(
            read_line::<(i64,)>(b"{", &["id"])
                .unwrap_err()
                .contains("not JSON")
        );
    }

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            schema_version: "20261202000015".into(),
            bazaar_version: "0.1.0".into(),
            started_at: "2026-12-02T10:11:12Z".into(),
            seconds: 0.5,
            tables: vec![TableFile::new(
                "users",
                Digest {
                    rows: 2,
                    bytes: 10,
                    sha256: [7; 32],
                },
            )],
        }
    }

    #[test]
    fn a_manifest_is_checked_before_its_files() {
        let text = serde_json::to_vec(&manifest()).unwrap();
        let read = Manifest::parse(&text).unwrap();
        assert_eq!(read, manifest());
        assert!(read.check("20261202000015", &["users"]).is_ok());
        let older = read.check("20261202000016", &["users"]).unwrap_err();
        assert!(older.contains("schema version 20261202000015"), "{older}");
        assert!(
            read.check("20261202000015", &["users", "orders"])
                .unwrap_err()
                .contains("no table orders")
        );
        assert!(
            read.check("20261202000015", &[])
                .unwrap_err()
                .contains("does not know")
        );
        let mut renamed = manifest();
        renamed.tables[0].file = "../users.jsonl".into();
        assert!(renamed.check("20261202000015", &["users"]).is_err());

        let mut newer = serde_json::to_value(manifest()).unwrap();
        newer["format_version"] = json!(2);
        let error = Manifest::parse(newer.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            error,
            "archive format version 2; this Bazaar reads version 1"
        );
        assert!(
            Manifest::parse(b"{}")
                .unwrap_err()
                .contains("not a Bazaar archive")
        );
        assert!(Manifest::parse(b"\x00").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn a_file_must_match_its_entry() {
        let entry = &manifest().tables[0];
        let good = Digest {
            rows: 2,
            bytes: 10,
            sha256: [7; 32],
        };
        assert!(entry.check(good).is_ok());
        let changed = entry
            .check(Digest {
                sha256: [8; 32],
                ..good
            })
            .unwrap_err();
        assert!(changed.contains("changed or damaged"), "{changed}");
        assert!(entry.check(Digest { rows: 3, ..good }).is_err());
    }
}
