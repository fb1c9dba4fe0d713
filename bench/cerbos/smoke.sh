#!/usr/bin/env bash
# Decision smoke test against a running Cerbos.
#   ./smoke.sh [base-url=http://127.0.0.1:3592] [mode=roles|plain]
# mode=roles : server uses policies/           (roles+email sent in subject.properties)
# mode=plain : server uses policies-directory/ (bare interop body, PID only)
set -u
U=${1:-http://127.0.0.1:3592}; MODE=${2:-roles}
declare -A ROLES=([rick]='["admin","evil_genius"]' [morty]='["editor"]' [summer]='["editor"]' [beth]='["viewer"]' [jerry]='["viewer"]')
declare -A PID=([rick]=CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs [morty]=CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs [summer]=CiRmZDI2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs [beth]=CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs [jerry]=CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs)
declare -A EMAIL=([rick]=rick@the-citadel.com [morty]=morty@the-citadel.com [summer]=summer@the-smiths.com [beth]=beth@the-smiths.com [jerry]=jerry@the-smiths.com)
fail=0
check() { # user action resource-json expected
  local subj
  if [ "$MODE" = roles ]; then
    subj="{\"type\":\"user\",\"id\":\"${PID[$1]}\",\"properties\":{\"cerbos.roles\":${ROLES[$1]},\"email\":\"${EMAIL[$1]}\"}}"
  else
    subj="{\"type\":\"user\",\"id\":\"${PID[$1]}\"}"
  fi
  local body="{\"subject\":$subj,\"action\":{\"name\":\"$2\"},\"resource\":$3}"
  local out; out=$(curl -s -X POST "$U/access/v1/evaluation" -H 'content-type: application/json' -d "$body")
  local ok=FAIL; [ "$out" = "{\"decision\":$4}" ] && ok=ok || fail=1
  printf '%-4s %-6s %-16s %-45s -> %s (expected %s)\n' "$ok" "$1" "$2" "$3" "$out" "$4"
}
todo() { echo "{\"type\":\"todo\",\"id\":\"7240d0db-8ff0-41ec-98b2-34a096273b9$1\",\"properties\":{\"ownerID\":\"$2\"}}"; }
check rick  can_update_todo "$(todo 2 morty@the-citadel.com)" true
check morty can_update_todo "$(todo 1 rick@the-citadel.com)"  false
check morty can_update_todo "$(todo 2 morty@the-citadel.com)" true
check beth  can_create_todo '{"type":"todo","id":"new"}'        false
check summer can_create_todo '{"type":"todo","id":"new"}'       true
check rick  can_delete_todo "$(todo 2 morty@the-citadel.com)" true
check summer can_delete_todo "$(todo 2 morty@the-citadel.com)" false
check jerry can_read_todos  '{"type":"todo","id":"todos"}'      true
check jerry can_read_user   "{\"type\":\"user\",\"id\":\"${PID[rick]}\"}" true
exit $fail
