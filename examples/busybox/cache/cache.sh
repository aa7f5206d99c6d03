#!/bin/sh
# A tiny key-value counter with a Redis-like line protocol: PING, INCR
# KEY, GET KEY. Values live in /data, a named volume.
read -r cmd key
key=$(echo "$key" | tr -cd 'a-zA-Z0-9_')
case "$cmd" in
PING) echo PONG ;;
INCR)
	n=$(cat "/data/$key" 2>/dev/null || echo 0)
	n=$((n + 1))
	echo "$n" >"/data/$key"
	echo "$n"
	;;
GET) cat "/data/$key" 2>/dev/null || echo 0 ;;
*) echo "ERR unknown command" ;;
esac
