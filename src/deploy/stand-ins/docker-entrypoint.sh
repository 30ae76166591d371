#!/bin/sh
# The entrypoint of fleetbench's PostgreSQL stand-in image (src/deploy/compose-images.ts): what the
# official image's does for fleetbench's variables (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB).
# A first start initialises the cluster, password authentication from the network, every address
# listened on; then the server.
set -e
# Options alone are the server's, as the official entrypoint takes them (`-c setting=value` …).
case "$1" in -*) set -- postgres "$@" ;; esac
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  pw=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pw"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >/dev/null
  rm -f "$pw"
  printf "host all all all scram-sha-256\n" >> "$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
  db=${POSTGRES_DB:-$user}
  if [ "$db" != postgres ]; then echo "CREATE DATABASE \"$db\"" | postgres --single -D "$PGDATA" postgres >/dev/null; fi
  echo "PostgreSQL stand-in: initialised $PGDATA (user $user, database $db)"
fi
exec "$@"
