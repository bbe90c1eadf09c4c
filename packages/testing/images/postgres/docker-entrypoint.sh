#!/bin/sh
# Entrypoint of localhost/kubectl-dbaas-test/postgres:<major>, the PostgreSQL test image of
# kubectl-dbaas (packages/testing/src/node/images.ts). With `postgres` as the command (the default;
# a first argument starting with "-" is taken as postgres options) it initialises an empty $PGDATA
# and then runs the server in the foreground; any other command runs as given.
#
#   POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE)  superuser password; required unless
#                                                  POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER      superuser name (default postgres)
#   POSTGRES_DB        database created at initialisation (default: POSTGRES_USER)
#   POSTGRES_HOST_AUTH_METHOD  method of the "host all all all" pg_hba line (default scram-sha-256)
#   POSTGRES_INITDB_WALDIR  where initdb puts the WAL (initdb --waldir; $PGDATA/pg_wal is then a
#                      symlink to it), e.g. a directory on a second volume; read only at
#                      initialisation, harmless afterwards. Unset: pg_wal inside $PGDATA
#   /docker-entrypoint-initdb.d/*.sql, *.sh       run once, after initialisation
#
# Started as root it makes $PGDATA, $POSTGRES_INITDB_WALDIR (when set) and the socket directory the
# postgres user's (uid 999) and runs itself again as that user; started as any other uid it runs as
# that uid.
# The password reaches initdb through a file of mode 0600 that is removed right after; it is never
# an argument of a command and never printed.
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

: "${PGDATA:?PGDATA must name the data directory}"

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  find "$PGDATA" ! -user postgres -exec chown postgres:postgres '{}' +
  chmod 00700 "$PGDATA"
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    find "$POSTGRES_INITDB_WALDIR" ! -user postgres -exec chown postgres:postgres '{}' +
    chmod 00700 "$POSTGRES_INITDB_WALDIR"
  fi
  chown postgres:postgres /var/run/postgresql
  chmod 03777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/var/lib/postgresql "$0" "$@"
fi

log() { printf '%s\n' "docker-entrypoint: $*" >&2; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
  fi
  auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
    log "the data directory $PGDATA is empty and no superuser password is set:"
    log "set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without one"
    exit 1
  fi
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" 2>/dev/null || :
  waldir="${POSTGRES_INITDB_WALDIR:-}"
  if [ -n "$waldir" ]; then
    mkdir -p "$waldir"
    chmod 00700 "$waldir" 2>/dev/null || :
  fi
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  pwopt=
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    (umask 077 && printf '%s\n' "$POSTGRES_PASSWORD" > "$scratch/pwfile")
    pwopt="--pwfile=$scratch/pwfile"
  fi
  log "initialising $PGDATA (superuser \"$user\")${waldir:+, WAL in $waldir}"
  initdb --username="$user" ${pwopt:+"$pwopt"} ${waldir:+"--waldir=$waldir"} --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA"
  rm -f "$scratch/pwfile"
  printf "\n# docker-entrypoint.sh\nlisten_addresses = '*'\nunix_socket_directories = '/var/run/postgresql'\n" >> "$PGDATA/postgresql.conf"
  printf '\n# docker-entrypoint.sh\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

  initfiles=$(find /docker-entrypoint-initdb.d -mindepth 1 -maxdepth 1 \( -name '*.sql' -o -name '*.sh' \) 2>/dev/null | sort)
  if [ "$db" != postgres ] || [ -n "$initfiles" ]; then
    # A server on a private socket only, for the database and the init scripts.
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses= -c unix_socket_directories=$scratch" start >&2
    if [ "$db" != postgres ]; then
      psql -X -q -v ON_ERROR_STOP=1 -h "$scratch" -U "$user" -d postgres -v db="$db" <<'SQL'
CREATE DATABASE :"db";
SQL
    fi
    printf '%s\n' "$initfiles" | while IFS= read -r f; do
      case "$f" in
        *.sql) log "running $f"; psql -X -q -v ON_ERROR_STOP=1 -h "$scratch" -U "$user" -d "$db" -f "$f" </dev/null ;;
        *.sh) log "running $f"; PGHOST="$scratch" PGUSER="$user" PGDATABASE="$db" sh "$f" </dev/null ;;
        *) ;;
      esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >&2
  fi
  rm -rf "$scratch"
  trap - EXIT
  log "initialised; starting PostgreSQL"
fi

exec "$@"
