#!/bin/sh
# Entrypoint of localhost/kubectl-dbaas-test/mariadb:<version>, the MariaDB test image of
# kubectl-dbaas (packages/testing/src/node/images.ts), built from Debian's mariadb-server. With
# `mariadbd` as the command (the default; a first argument starting with "-" is taken as server
# options) it initialises an empty /var/lib/mysql and then runs the server in the foreground; any
# other command runs as given.
#
#   MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD, or *_FILE)  password of root@localhost and root@%
#   MARIADB_DATABASE (or MYSQL_DATABASE)     database created at initialisation
#   MARIADB_USER / MARIADB_PASSWORD (or MYSQL_*)  a user with all privileges on that database
#
# Started as root it makes the data and socket directories the mysql user's and runs itself again
# as that user; started as any other uid it runs as that uid. Passwords reach the server only as
# SQL on the standard input of the client; they are never arguments of a command and never printed.
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- mariadbd "$@"
fi
case "$1" in
  mariadbd | mysqld) ;;
  *) exec "$@" ;;
esac

DATADIR=/var/lib/mysql

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$DATADIR" /run/mysqld
  find "$DATADIR" ! -user mysql -exec chown mysql:mysql '{}' +
  chown mysql:mysql /run/mysqld
  exec setpriv --reuid=mysql --regid=mysql --init-groups env HOME="$DATADIR" "$0" "$@"
fi

log() { printf '%s\n' "docker-entrypoint: $*" >&2; }
# A value from VAR, else VAR_FILE, for the MARIADB_ name, else the MYSQL_ one.
setting() {
  for prefix in MARIADB MYSQL; do
    eval "v=\${${prefix}_$1:-}"
    eval "f=\${${prefix}_$1_FILE:-}"
    if [ -n "$v" ]; then printf '%s' "$v"; return; fi
    if [ -n "$f" ]; then cat "$f"; return; fi
  done
}
# SQL string literal and identifier quoting. (SQL lines are written with printf: dash's echo would
# turn the doubled backslashes back into single ones.)
sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"; }
sql_ident() { printf '`%s`' "$(printf '%s' "$1" | sed -e 's/`/``/g')"; }

if [ ! -d "$DATADIR/mysql" ]; then
  root_password=$(setting ROOT_PASSWORD)
  if [ -z "$root_password" ] && [ -z "$(setting ALLOW_EMPTY_ROOT_PASSWORD)" ]; then
    log "the data directory $DATADIR is empty and no root password is set:"
    log "set MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD, or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1)"
    exit 1
  fi
  database=$(setting DATABASE)
  user=$(setting USER)
  user_password=$(setting PASSWORD)
  log "initialising $DATADIR"
  mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve --force >&2

  scratch=$(mktemp -d)
  mariadbd --datadir="$DATADIR" --skip-networking --socket="$scratch/mysqld.sock" \
    --pid-file="$scratch/mysqld.pid" --skip-log-bin >&2 &
  server=$!
  trap 'kill "$server" 2>/dev/null || :; rm -rf "$scratch"' EXIT
  tries=0
  until mariadb-admin --no-defaults --socket="$scratch/mysqld.sock" -uroot ping >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 60 ] || ! kill -0 "$server" 2>/dev/null; then
      log "the initialisation server did not start"
      exit 1
    fi
    sleep 1
  done
  {
    printf '%s\n' "SET @@SESSION.SQL_LOG_BIN = 0;"
    # mariadb-install-db also made root@127.0.0.1, root@::1 and root@<hostname> without a password,
    # and anonymous users: they would match TCP clients before root@'%'.
    printf '%s\n' "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');"
    printf '%s\n' "DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';"
    printf '%s\n' "FLUSH PRIVILEGES;"
    if [ -n "$root_password" ]; then
      printf '%s\n' "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$root_password");"
      printf '%s\n' "CREATE USER 'root'@'%' IDENTIFIED BY $(sql_string "$root_password");"
    else
      printf '%s\n' "CREATE USER 'root'@'%';"
    fi
    printf '%s\n' "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "$database" ]; then
      printf '%s\n' "CREATE DATABASE IF NOT EXISTS $(sql_ident "$database");"
    fi
    if [ -n "$user" ] && [ -n "$user_password" ]; then
      printf '%s\n' "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$user_password");"
      if [ -n "$database" ]; then
        printf '%s\n' "GRANT ALL ON $(sql_ident "$database").* TO $(sql_string "$user")@'%';"
      fi
    fi
  } | mariadb --no-defaults --socket="$scratch/mysqld.sock" -uroot --batch
  kill "$server"
  wait "$server" || :
  trap - EXIT
  rm -rf "$scratch"
  log "initialised; starting MariaDB"
fi

exec "$@"
