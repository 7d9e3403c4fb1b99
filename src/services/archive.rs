//! Backups and portable archives, for the command line.
//!
//! - `bazaar export --to PATH` writes every table from one consistent snapshot as an archive: a
//!   directory, or one tar file when PATH ends in `.tar`, holding `<table>.jsonl` per table (one
//!   row a line, by primary key, in the canonical encoding of `domain::archive`) and
//!   `manifest.json` (format version, schema version, Bazaar version, time taken, rows, bytes
//!   and SHA-256 per file). Memory stays bounded: rows are read in keyset batches and written
//!   as they come.
//! - `bazaar import --from PATH` checks the whole archive first (manifest, schema version, every
//!   file's SHA-256 and rows) and only then loads it, in one transaction, into an empty database
//!   of either kind (migrating it first), then checks the counts and the database's integrity.
//! - `bazaar backup --to FILE` takes a consistent online backup: on SQLite `VACUUM INTO` (a
//!   compacted database file, openable as it is); on PostgreSQL the archive as one tar file.
//! - `bazaar restore --from FILE` loads either kind of backup (or any archive) as `import` does.
//!
//! Nothing is ever overwritten: archives and backups are written beside their target and renamed
//! into place when complete; a database that holds rows is replaced only with `force`.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use crate::db::archive::{self as tables, ArchiveTable, TABLES};
use crate::db::{Backend, ConnectionManager, DatabaseUrl, Db, DbConnection, migrations};
use crate::domain::archive::{
    Digest, FORMAT, FORMAT_VERSION, MANIFEST_FILE, Manifest, TableFile, table_file,
};
use crate::error::AppError;

/// Rows per statement when reading a table.
pub const BATCH_SIZE: i64 = 1_000;

/// The largest manifest read.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// What an export wrote.
#[derive(Debug)]
pub struct ExportReport {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// Bytes written, manifest included.
    pub bytes: u64,
}

impl ExportReport {
    /// Rows in every table.
    pub fn rows(&self) -> u64 {
        self.manifest.tables.iter().map(|t| t.rows).sum()
    }
}

/// Writes every table of `db` to an archive at `to` (a tar file when it ends in `.tar`, else a
/// directory), from one snapshot. `to` must not exist (or be an empty directory).
pub fn export(db: &Db, to: &Path) -> anyhow::Result<ExportReport> {
    let tar = to.extension().is_some_and(|ext| ext == "tar");
    export_as(db, to, tar)
}

fn export_as(db: &Db, to: &Path, tar: bool) -> anyhow::Result<ExportReport> {
    let mut writer = ArchiveWriter::create(to, tar)?;
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let (schema_version, files) =
        db.run_blocking(|conn| export_tables(conn, &mut writer).map_err(AppError::internal))?;
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        schema_version,
        bazaar_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        seconds: started.elapsed().as_secs_f64(),
        tables: files,
    };
    let bytes = writer.finish(&manifest)?;
    Ok(ExportReport { manifest, bytes })
}

/// Writes each table in one snapshot; the schema version and the tables' files.
fn export_tables(
    conn: &mut DbConnection,
    writer: &mut ArchiveWriter,
) -> anyhow::Result<(String, Vec<TableFile>)> {
    let pending = migrations::pending(conn)?;
    anyhow::ensure!(
        pending.is_empty(),
        "the database needs {} migration(s): run `bazaar migrate` first",
        pending.len()
    );
    tables::in_snapshot(conn, |conn| {
        let schema_version = current_schema_version(conn)?;
        let files = TABLES
            .iter()
            .map(|table| {
                let mut file = writer.begin_table(table.name)?;
                table
                    .export(conn, BATCH_SIZE, &mut |lines| file.write_all(lines))
                    .with_context(|| format!("exporting table {}", table.name))?;
                let digest = writer.end_table(file)?;
                Ok(TableFile::new(table.name, digest))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok((schema_version, files))
    })
}

/// The database's schema version, which must be this binary's.
fn current_schema_version(conn: &mut DbConnection) -> anyhow::Result<String> {
    let latest = migrations::latest_version();
    let applied = migrations::applied_version(conn)?.unwrap_or_default();
    anyhow::ensure!(
        applied == latest,
        "the database is at schema version {applied}, this Bazaar's is {latest}"
    );
    Ok(applied)
}

/// What a backup wrote.
#[derive(Debug)]
pub struct BackupReport {
    /// What kind of file: `SQLite database` or `archive`.
    pub kind: &'static str,
    /// Its size.
    pub bytes: u64,
    /// Rows, when counted (an archive's).
    pub rows: Option<u64>,
}

/// Takes a consistent backup of `db` while it serves, into the new file `to`. SQLite: `VACUUM
/// INTO`, a compacted copy of the database as of the moment it began. PostgreSQL: the archive of
/// [`export`] from one `REPEATABLE READ` snapshot, as one tar file.
pub fn backup(db: &Db, to: &Path) -> anyhow::Result<BackupReport> {
    if db.backend() == Backend::Postgres {
        let report = export_as(db, to, true)?;
        return Ok(BackupReport {
            kind: "archive",
            bytes: report.bytes,
            rows: Some(report.rows()),
        });
    }
    refuse_existing(to)?;
    let partial = Partial::beside(to, "partial")?;
    let path = partial
        .path
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", partial.path.display()))?
        .to_owned();
    db.run_blocking(|conn| {
        tables::vacuum_into(conn, &path)
            .with_context(|| format!("cannot write {}", to.display()))
            .map_err(AppError::internal)
    })?;
    let bytes = partial.commit(to)?;
    Ok(BackupReport {
        kind: "SQLite database",
        bytes,
        rows: None,
    })
}

/// What a load (import or restore) put in.
#[derive(Debug)]
pub struct LoadReport {
    /// Rows of each table, in load order.
    pub tables: Vec<(&'static str, u64)>,
    /// How long it took.
    pub elapsed: Duration,
}

impl LoadReport {
    /// Rows in every table.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, rows)| rows).sum()
    }
}

/// Loads a checked archive into `db` (see [`load`]).
pub fn import(db: &Db, archive: &Archive, force: bool) -> anyhow::Result<LoadReport> {
    load(db, force, &mut |table, conn| {
        let mut lines = archive.open_file(&table_file(table.name))?;
        let rows = table.import(conn, &mut lines)?;
        let expected = archive.manifest.table(table.name).map_or(0, |t| t.rows);
        anyhow::ensure!(
            rows == expected,
            "{rows} rows read, the manifest says {expected}"
        );
        Ok(rows)
    })
}

/// What `bazaar restore` reads: an archive, or a SQLite backup file.
pub enum Backup {
    /// A checked archive.
    Archive(Archive),
    /// A checked SQLite database file (`VACUUM INTO`'s), open read-only.
    Database(DbConnection),
}

impl Backup {
    /// Opens and checks a backup before anything is written: a SQLite file must pass its
    /// integrity check and be of this binary's schema version; an archive, [`Archive::open`]'s
    /// checks.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let is_sqlite = path.is_file()
            && tables::is_sqlite_file(&mut File::open(path).with_context(|| read_error(path))?)
                .with_context(|| read_error(path))?;
        if !is_sqlite {
            return Archive::open(path).map(Self::Archive);
        }
        let mut conn = open_read_only(path)?;
        let checked = (|| {
            tables::check_integrity(&mut conn)?;
            current_schema_version(&mut conn)
        })();
        checked.with_context(|| format!("{} cannot be restored", path.display()))?;
        Ok(Self::Database(conn))
    }
}

/// Opens the SQLite file at `path` read-only.
fn open_read_only(path: &Path) -> anyhow::Result<DbConnection> {
    use r2d2::ManageConnection as _;
    let absolute = fs::canonicalize(path).with_context(|| read_error(path))?;
    let text = absolute
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", path.display()))?;
    // A URI, for `mode=ro`; its path's own `%`, `?` and `#` escaped.
    let escaped = text
        .replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23");
    ConnectionManager::new(DatabaseUrl::Sqlite(format!("file:{escaped}?mode=ro")))
        .connect()
        .with_context(|| format!("cannot open {} as a SQLite database", path.display()))
}

/// Loads a checked backup into `db` (see [`load`]).
pub fn restore(db: &Db, backup: &mut Backup, force: bool) -> anyhow::Result<LoadReport> {
    match backup {
        Backup::Archive(archive) => import(db, archive, force),
        // One snapshot of the source too, in case it is a database still in use.
        Backup::Database(source) => tables::in_snapshot(source, |source| {
            load(db, force, &mut |table, conn| {
                table.copy(source, conn, BATCH_SIZE)
            })
        }),
    }
}

/// Migrates `db` if needed, then in one transaction: refuses a database that holds rows unless
/// `force` (which deletes them all), fills every table in load order with `fill`, checks each
/// table's count, and points PostgreSQL's id sequences past the largest ids. Then checks the
/// database's integrity (SQLite). A failure anywhere leaves the database as it was.
fn load(
    db: &Db,
    force: bool,
    fill: &mut dyn FnMut(&ArchiveTable, &mut DbConnection) -> anyhow::Result<u64>,
) -> anyhow::Result<LoadReport> {
    let started = Instant::now();
    let loaded =
        db.run_blocking(|conn| load_into(conn, force, fill).map_err(AppError::internal))?;
    Ok(LoadReport {
        tables: loaded,
        elapsed: started.elapsed(),
    })
}

fn load_into(
    conn: &mut DbConnection,
    force: bool,
    fill: &mut dyn FnMut(&ArchiveTable, &mut DbConnection) -> anyhow::Result<u64>,
) -> anyhow::Result<Vec<(&'static str, u64)>> {
    migrations::run_pending(conn)?;
    current_schema_version(conn)?;
    let loaded = tables::in_load_transaction(conn, |conn| {
        if !force {
            let mut filled = Vec::new();
            for table in TABLES.iter().filter(|t| !t.filled_by_migrations()) {
                let rows = table.count(conn)?;
                if rows > 0 {
                    filled.push(format!("{} {rows}", table.name));
                }
            }
            anyhow::ensure!(
                filled.is_empty(),
                "the database is not empty (rows: {}): load into an empty database, or pass \
                 --force to delete everything in it first",
                filled.join(", ")
            );
        }
        for table in TABLES.iter().rev() {
            table.clear(conn)?;
        }
        let mut loaded = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let rows = fill(table, conn).with_context(|| format!("table {}", table.name))?;
            let count = table.count(conn)?;
            anyhow::ensure!(
                u64::try_from(count) == Ok(rows),
                "table {}: {rows} rows loaded, {count} found",
                table.name
            );
            loaded.push((table.name, rows));
        }
        tables::reset_sequences(conn)?;
        Ok(loaded)
    })?;
    tables::check_integrity(conn)?;
    Ok(loaded)
}

/// An archive whose manifest and files were checked: every table file's SHA-256, size and rows
/// are the manifest's, its schema version is this binary's, its tables are this binary's.
pub struct Archive {
    files: ArchiveFiles,
    /// The manifest.
    pub manifest: Manifest,
}

impl Archive {
    /// Opens the archive at `path` (a directory or a tar file) and checks it whole.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::read(path).with_context(|| format!("{} cannot be loaded", path.display()))
    }

    fn read(path: &Path) -> anyhow::Result<Self> {
        let metadata = fs::metadata(path).with_context(|| read_error(path))?;
        let (files, digests) = if metadata.is_dir() {
            (ArchiveFiles::Directory(path.to_owned()), None)
        } else {
            let (entries, digests) = index_tar(path)?;
            (ArchiveFiles::Tar(path.to_owned(), entries), Some(digests))
        };
        let mut text = Vec::new();
        files
            .open(MANIFEST_FILE)?
            .take(MAX_MANIFEST_BYTES)
            .read_to_end(&mut text)?;
        let manifest = Manifest::parse(&text).map_err(anyhow::Error::msg)?;
        manifest
            .check(&migrations::latest_version(), &tables::table_names())
            .map_err(anyhow::Error::msg)?;
        for file in &manifest.tables {
            let digest = match &digests {
                Some(digests) => digests.get(&file.file).copied(),
                None => Some(digest_of(files.open(&file.file)?)?),
            };
            let digest = digest.with_context(|| format!("{} is missing", file.file))?;
            file.check(digest).map_err(anyhow::Error::msg)?;
        }
        Ok(Self { files, manifest })
    }

    /// Reads the file `name` of the archive.
    fn open_file(&self, name: &str) -> anyhow::Result<Box<dyn BufRead>> {
        self.files.open(name)
    }
}

/// Where an archive's files are.
enum ArchiveFiles {
    /// In a directory.
    Directory(PathBuf),
    /// In a tar file, each at an offset, of a length.
    Tar(PathBuf, HashMap<String, (u64, u64)>),
}

impl ArchiveFiles {
    fn open(&self, name: &str) -> anyhow::Result<Box<dyn BufRead>> {
        match self {
            Self::Directory(dir) => {
                let path = dir.join(name);
                let file = File::open(&path).with_context(|| read_error(&path))?;
                Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
            }
            Self::Tar(path, entries) => {
                let &(offset, length) = entries
                    .get(name)
                    .with_context(|| format!("{name} is missing"))?;
                let mut file = File::open(path).with_context(|| read_error(path))?;
                file.seek(SeekFrom::Start(offset))?;
                Ok(Box::new(BufReader::with_capacity(
                    1 << 16,
                    file.take(length),
                )))
            }
        }
    }
}

type TarIndex = (HashMap<String, (u64, u64)>, HashMap<String, Digest>);

/// Reads a tar file once: where each file is, and each table file's digest.
fn index_tar(path: &Path) -> anyhow::Result<TarIndex> {
    let file = File::open(path).with_context(|| read_error(path))?;
    let mut head = [0_u8; 512];
    let is_tar = (&file).read_exact(&mut head).is_ok() && &head[257..262] == b"ustar";
    anyhow::ensure!(
        is_tar,
        "it is neither a Bazaar archive (a directory or a tar file) nor a SQLite backup"
    );
    (&file).seek(SeekFrom::Start(0))?;
    let mut tar = tar::Archive::new(BufReader::new(file));
    let (mut entries, mut digests) = (HashMap::new(), HashMap::new());
    for entry in tar.entries().context("not a readable tar file")? {
        let entry = entry.context("not a readable tar file")?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        let (offset, length) = (entry.raw_file_position(), entry.size());
        if name.ends_with(".jsonl") {
            digests.insert(name.clone(), digest_of(entry)?);
        }
        entries.insert(name, (offset, length));
    }
    Ok((entries, digests))
}

/// Reads `file` to its end: lines, bytes and SHA-256.
fn digest_of(mut file: impl Read) -> io::Result<Digest> {
    let mut hashing = HashingWriter::new(io::sink());
    io::copy(&mut file, &mut hashing)?;
    Ok(hashing.digest())
}

/// Passes bytes on, counting them and their lines and hashing them.
struct HashingWriter<W> {
    inner: W,
    sha256: Sha256,
    bytes: u64,
    rows: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            sha256: Sha256::new(),
            bytes: 0,
            rows: 0,
        }
    }

    fn digest(self) -> Digest {
        Digest {
            rows: self.rows,
            bytes: self.bytes,
            sha256: self.sha256.finalize().into(),
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        let buf = &buf[..written];
        self.sha256.update(buf);
        self.bytes += written as u64;
        self.rows += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A file or directory being written beside its target, removed unless committed.
struct Partial {
    path: PathBuf,
    committed: bool,
}

impl Partial {
    /// A new name beside `target`: `.NAME.TAG-PID`.
    fn beside(target: &Path, tag: &str) -> anyhow::Result<Self> {
        let name = target
            .file_name()
            .with_context(|| format!("{} names no file", target.display()))?;
        let path = target.with_file_name(format!(
            ".{}.{tag}-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let _ = remove(&path);
        Ok(Self {
            path,
            committed: false,
        })
    }

    /// Syncs what was written and renames it to `target`; its size in bytes.
    fn commit(mut self, target: &Path) -> anyhow::Result<u64> {
        let mut bytes = 0;
        let files = if self.path.is_dir() {
            fs::read_dir(&self.path)?
                .map(|entry| entry.map(|e| e.path()))
                .collect::<io::Result<Vec<_>>>()?
        } else {
            vec![self.path.clone()]
        };
        for file in files {
            let file = File::open(file)?;
            file.sync_all()?;
            bytes += file.metadata()?.len();
        }
        if target.is_dir() {
            // An empty directory the caller made for it (checked at the start).
            fs::remove_dir(target)
                .with_context(|| format!("cannot replace the empty {}", target.display()))?;
        }
        fs::rename(&self.path, target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        self.committed = true;
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(parent)?.sync_all()?;
        }
        Ok(bytes)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove(&self.path);
        }
    }
}

fn remove(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

/// Refuses a target that exists, unless it is an empty directory.
fn refuse_existing(target: &Path) -> anyhow::Result<()> {
    let empty_dir = target.is_dir() && fs::read_dir(target)?.next().is_none();
    anyhow::ensure!(
        !target.exists() || empty_dir,
        "{} exists: give a new path (nothing is overwritten)",
        target.display()
    );
    Ok(())
}

/// An archive being written.
struct ArchiveWriter {
    target: PathBuf,
    partial: Partial,
    /// For a tar file: the tar, and the file each table is written to before it is added.
    tar: Option<(tar::Builder<BufWriter<File>>, Partial)>,
}

/// A table file being written.
struct TableWriter {
    out: BufWriter<HashingWriter<File>>,
    name: String,
}

impl Write for TableWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl ArchiveWriter {
    fn create(target: &Path, tar: bool) -> anyhow::Result<Self> {
        refuse_existing(target)?;
        let partial = Partial::beside(target, "partial")?;
        let writing = || format!("cannot write {}", target.display());
        let tar = if tar {
            let file = File::create(&partial.path).with_context(writing)?;
            let scratch = Partial::beside(target, "table")?;
            Some((tar::Builder::new(BufWriter::new(file)), scratch))
        } else {
            fs::create_dir(&partial.path).with_context(writing)?;
            None
        };
        Ok(Self {
            target: target.to_owned(),
            partial,
            tar,
        })
    }

    /// Starts the file of `table`.
    fn begin_table(&mut self, table: &str) -> anyhow::Result<TableWriter> {
        let name = table_file(table);
        let path = match &self.tar {
            Some((_, scratch)) => scratch.path.clone(),
            None => self.partial.path.join(&name),
        };
        let file =
            File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(TableWriter {
            out: BufWriter::with_capacity(1 << 16, HashingWriter::new(file)),
            name,
        })
    }

    /// Finishes a table's file; what it holds.
    fn end_table(&mut self, table: TableWriter) -> anyhow::Result<Digest> {
        let digest = table
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .digest();
        if let Some((builder, scratch)) = &mut self.tar {
            let file = File::open(&scratch.path)?;
            append(builder, &table.name, digest.bytes, file)?;
        }
        Ok(digest)
    }

    /// Writes the manifest and puts the archive in place; its size in bytes.
    fn finish(mut self, manifest: &Manifest) -> anyhow::Result<u64> {
        let mut text = serde_json::to_vec_pretty(manifest)?;
        text.push(b'\n');
        match self.tar.take() {
            Some((mut builder, scratch)) => {
                drop(scratch);
                append(&mut builder, MANIFEST_FILE, text.len() as u64, &text[..])?;
                builder.into_inner()?.flush()?;
            }
            None => fs::write(self.partial.path.join(MANIFEST_FILE), &text)?,
        }
        self.partial.commit(&self.target)
    }
}

/// Adds a regular file `name` of `length` bytes read from `data` to a tar.
fn append(
    builder: &mut tar::Builder<BufWriter<File>>,
    name: &str,
    length: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(length);
    header.set_mode(0o644);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    builder.append_data(&mut header, name, data)
}

fn read_error(path: &Path) -> String {
    format!("cannot read {}", path.display())
}
