#!/bin/sh
# Stops the service when the package is removed (not when upgraded).
set -e
if [ -d /run/systemd/system ] && { [ "$1" = remove ] || [ "$1" = 0 ]; }; then
	systemctl stop @NAME@.service >/dev/null 2>&1 || true
fi
exit 0
