#!/bin/sh
# Creates the service's system user and group before the files arrive.
set -e
NAME=@NAME@
if ! getent passwd "$NAME" >/dev/null 2>&1; then
	useradd --system --user-group --no-create-home \
		--home-dir "/var/lib/$NAME" --shell /usr/sbin/nologin \
		--comment "vmroute $NAME" "$NAME"
fi
exit 0
