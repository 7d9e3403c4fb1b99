# Sourced by bench/run and bench/commerce: the machine's PostgreSQL as a production database
# runs. It is started if down, `postgres` gets the password the URLs carry, and autovacuum is on
# (PostgreSQL's default, which keeps the planner's statistics current as carts and orders fill
# tables that were empty when seeded; prepared statements are re-planned when they change). Some
# machines turn autovacuum off to keep tests quiet: the run turns it on, and
# `postgres_restore` (call it on exit) puts the setting back.

psql_admin() { su postgres -c "psql -d postgres -v ON_ERROR_STOP=1 -qAt" <<<"$1"; }

restore_autovacuum=false
postgres_restore() {
  if $restore_autovacuum; then
    psql_admin "ALTER SYSTEM RESET autovacuum"
    psql_admin "SELECT pg_reload_conf()" >/dev/null
  fi
}

postgres_prepare() {
  pg_isready -h 127.0.0.1 -p 5432 -q \
    || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  psql_admin "ALTER USER postgres PASSWORD 'postgres'"
  if [[ "$(psql_admin "SHOW autovacuum")" != on ]]; then
    restore_autovacuum=true
    psql_admin "ALTER SYSTEM SET autovacuum = on"
    psql_admin "SELECT pg_reload_conf()" >/dev/null
  fi
}
