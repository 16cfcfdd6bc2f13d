# pgtools software fence: POSIX sh (dash on Debian), started by @pgtools/watchdog startFence().
#
# Usage: sh fence.sh TIMEOUT_MS GRACE_MS TICK_MS [LOG_FILE]
#
# stdin (from the agent, one command a line): arm PID STARTTIME | ka [VALID_MS] | disarm | exit | ping
#   | etcd URL... | cacert PATH | cert PATH | key PATH | auth JSON | user NAME:PASSWORD | lease [ID]
#   "ka VALID_MS" moves the deadline to VALID_MS from now instead of TIMEOUT_MS: the agent knows
#   when its leader lease expires and a keepalive sent late must not outlive the lease.
#   etcd/cacert/cert/key/auth say how to reach etcd; "lease ID" names the leader lease to revoke.
# stdout (to the agent): ready | armed PID START | disarmed | pong | fencing PID REASON SINCE_MS |
#   fenced PID SIGQUIT|SIGKILL TOOK_MS SINCE_MS | failed PID PIDS... | skip PID REASON | bye REASON |
#   revoked LEASE URL|gone TOOK_MS | revoke_failed LEASE REASON | norevoke REASON | error TEXT
#
# While armed, the postmaster PID is stopped (immediate shutdown) when no keepalive came for
# TIMEOUT_MS, or at once when stdin reaches EOF (the agent died without saying "exit"). Once the
# stop is proven (the postmaster and every child it had gone, by PID and start time), the leader's
# lease is revoked so a replica can take over now rather than when the lease expires.
# No Node runtime: a few dash processes and one `sleep` per tick. To revoke: curl against etcd's
# JSON gateway (a shell has no gRPC, and curl is on nearly every host); etcdctl only where the
# gateway refuses the request (client certificate with a CommonName while authentication is on).

set -f
# The agent may be gone when we report: a write error must never kill the fence before it acts.
trap '' PIPE HUP INT

T_CS=$(( ($1 + 9) / 10 ))
G_CS=$(( ($2 + 9) / 10 ))
TICK_MS=$3
LOG=${4-}
TICK=$(( TICK_MS / 1000 )).$(( TICK_MS % 1000 / 100 ))$(( TICK_MS % 100 / 10 ))$(( TICK_MS % 10 ))
POLL=0.02
ME=$$

# /proc/uptime is monotonic and readable without a fork; centiseconds. The "1" prefix keeps a
# fraction like "05" from being read as octal.
now() {
  read -r _up _idle < /proc/uptime
  NOW=$(( ${_up%.*} * 100 + 1${_up#*.} - 100 ))
}

say() {
  printf '%s\n' "$*" 2>/dev/null
  if [ -n "$LOG" ]; then
    printf '%s pgtools-fence[%s] %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$ME" "$*" >> "$LOG" 2>/dev/null
  fi
}

# Sets ST_STATE, ST_PPID and ST_START (field 22: start time in clock ticks since boot) of pid $1.
# comm (field 2) may hold spaces and parentheses, so split after its last ") ".
proc_stat() {
  _line=
  { read -r _line < "/proc/$1/stat"; } 2>/dev/null || [ -n "$_line" ] || return 1
  set -- ${_line##*) }
  [ $# -ge 20 ] || return 1
  ST_STATE=$1
  ST_PPID=$2
  shift 19
  ST_START=$1
}

# True while pid $1 is alive (not a zombie) and still the process that started at tick $2:
# a PID reused by another process has another start time and is never signalled.
same_proc() {
  proc_stat "$1" || return 1
  [ "$ST_STATE" != Z ] && [ "$ST_START" = "$2" ]
}

# Sets KIDS to "pid:start ..." for the children of $1 (PostgreSQL backends and auxiliary processes).
kids_of() {
  KIDS=
  _list=
  if [ -r "/proc/$1/task/$1/children" ]; then
    { read -r _list < "/proc/$1/task/$1/children"; } 2>/dev/null || :
  else
    _list=$(ps -o pid= --ppid "$1" 2>/dev/null)
  fi
  for _k in $_list; do
    if proc_stat "$_k" && [ "$ST_STATE" != Z ] && [ "$ST_PPID" = "$1" ]; then
      KIDS="$KIDS $_k:$ST_START"
    fi
  done
}

# Sets ALIVE to the pids of the "pid:start" list $1 that still run.
alive_of() {
  ALIVE=
  for _p in $1; do
    if same_proc "${_p%:*}" "${_p#*:}"; then ALIVE="$ALIVE ${_p%:*}"; fi
  done
}

# Waits up to $2 centiseconds for every process of list $1 to be gone.
wait_gone() {
  now
  _until=$(( NOW + $2 ))
  while :; do
    alive_of "$1"
    [ -z "$ALIVE" ] && return 0
    now
    [ "$NOW" -ge "$_until" ] && return 1
    sleep "$POLL" 2>/dev/null || sleep 1
  done
}

ARMED=0
PM=
PM_START=
# How to reach etcd, from the agent (the password only ever arrives on stdin, never in argv).
ETCD=
CACERT=
CERT=
KEY=
CURL_CERT=
AUTH=
USERPASS=
LEASE=
CURL=$(command -v curl 2>/dev/null) || CURL=
ETCDCTL=$(command -v etcdctl 2>/dev/null) || ETCDCTL=
LAST=0
# When the last keepalive came (LAST is shifted by keepalives that carry a deadline).
KA_AT=0

fence() {
  now
  _since=$(( (NOW - KA_AT) * 10 ))
  ARMED=0
  say "fencing $PM $1 $_since"
  if ! same_proc "$PM" "$PM_START"; then
    if proc_stat "$PM" && [ "$ST_STATE" != Z ]; then say "skip $PM pid_reused"; else say "skip $PM postmaster_gone"; fi
    return 0
  fi
  _t0=$NOW
  # Children are listed before the signal: once the postmaster is gone they are reparented and
  # could no longer be found, and a backend without its postmaster keeps serving its client.
  kids_of "$PM"
  _procs="$PM:$PM_START$KIDS"
  # Immediate shutdown: the postmaster sends SIGQUIT to every backend and exits after them.
  kill -QUIT "$PM" 2>/dev/null
  if wait_gone "$_procs" "$G_CS"; then
    now
    say "fenced $PM SIGQUIT $(( (NOW - _t0) * 10 )) $_since"
    revoke
    return 0
  fi
  # Not obeyed in time: freeze the postmaster so it forks nothing new, then SIGKILL it and every
  # child by PID (checked against its start time again just before the signal).
  if same_proc "$PM" "$PM_START"; then
    kill -STOP "$PM" 2>/dev/null
    kids_of "$PM"
    _procs="$_procs$KIDS"
  fi
  for _p in $_procs; do
    if same_proc "${_p%:*}" "${_p#*:}"; then kill -KILL "${_p%:*}" 2>/dev/null; fi
  done
  if wait_gone "$_procs" 200; then
    now
    say "fenced $PM SIGKILL $(( (NOW - _t0) * 10 )) $_since"
    revoke
  else
    say "failed $PM$ALIVE"
  fi
}

# POSTs to etcd's JSON gateway: URL $1, body $2 ("-" reads it from stdin, for the password),
# token $3 (sent as a header read from stdin, so it never shows in ps). Prints the answer; etcd
# answers errors as JSON too, so any HTTP status is read, and only a transport failure returns 1.
etcd_post() {
  _url=$1
  _body=$2
  _tok=$3
  set -- -s --max-time 2 --connect-timeout 1 -X POST -H 'Content-Type: application/json'
  [ -n "$CACERT" ] && set -- "$@" --cacert "$CACERT"
  [ -n "$CERT" ] && set -- "$@" --cert "$CURL_CERT"
  [ -n "$KEY" ] && set -- "$@" --key "$KEY"
  if [ "$_body" = - ]; then
    printf '%s' "$AUTH" | "$CURL" "$@" --data-binary @- "$_url" 2>/dev/null
  elif [ -n "$_tok" ]; then
    printf 'Authorization: %s\n' "$_tok" | "$CURL" "$@" -H @- --data-raw "$_body" "$_url" 2>/dev/null
  else
    "$CURL" "$@" --data-raw "$_body" "$_url" 2>/dev/null
  fi
}

# Called only after a proven stop: revokes the leader's lease, which deletes the leader key (and
# this member's key) at once. A replica then takes over without waiting out the lease, which
# protects nothing once PostgreSQL is gone. Tries each endpoint in turn; 2 s each at most.
revoke() {
  [ -n "$LEASE" ] || return 0
  if [ -z "$CURL" ]; then say "revoke_failed $LEASE no_curl"; return 0; fi
  if [ -z "$ETCD" ]; then say "revoke_failed $LEASE no_endpoint"; return 0; fi
  now
  _r0=$NOW
  _why=unreachable
  for _e in $ETCD; do
    _token=
    _out=
    if [ -n "$AUTH" ]; then
      _out=$(etcd_post "$_e/v3/auth/authenticate" - '') || { _why=unreachable; continue; }
      case $_out in
        *CommonName*) _out=$(etcdctl_revoke "$_e") || { _why=gateway_refuses_cn; continue; } ;;
        *)
          _token=$(printf '%s' "$_out" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
          if [ -z "$_token" ]; then _why=auth_failed; continue; fi
          _out=
          ;;
      esac
    fi
    if [ -z "$_out" ] || [ -n "$_token" ]; then
      _out=$(etcd_post "$_e/v3/lease/revoke" "{\"ID\":\"$LEASE\"}" "$_token") || { _why=unreachable; continue; }
    fi
    case $_out in
      *'lease not found'*) _where=gone ;;
      *'"error"'*|*'"code"'*) _why=refused; continue ;;
      *'"header"'*) _where=$_e ;;
      *) _why=bad_answer; continue ;;
    esac
    now
    say "revoked $LEASE $_where $(( (NOW - _r0) * 10 ))"
    LEASE=
    return 0
  done
  say "revoke_failed $LEASE $_why"
}

# etcd's gateway refuses a client certificate with a CommonName while authentication is on (the
# CN would be ignored for authorization): then etcdctl, over gRPC, revokes at endpoint $1. The
# password goes in its environment (readable by this user and root only), not in argv. Prints an
# answer in the gateway's words for "revoke"; 1 when etcdctl is missing or unreachable.
etcdctl_revoke() {
  [ -n "$ETCDCTL" ] || return 1
  set -- --endpoints="$1" --dial-timeout=1s --command-timeout=2s
  [ -n "$CACERT" ] && set -- "$@" --cacert="$CACERT"
  [ -n "$CERT" ] && set -- "$@" --cert="$CERT"
  [ -n "$KEY" ] && set -- "$@" --key="$KEY"
  _ans=$(ETCDCTL_API=3 ETCDCTL_USER=$USERPASS "$ETCDCTL" "$@" lease revoke "$(printf '%x' "$LEASE")" 2>&1)
  case $_ans in
    *'lease not found'*) echo '{"error":"lease not found"}' ;;
    *revoked*) echo '{"header":{}}' ;;
    *) return 1 ;;
  esac
}

# Sets one etcd access setting from a command's argument (the rest of its line).
etcd_setting() {
  case $1 in
    etcd)
      ETCD=$2
      [ -n "$CURL" ] || say "norevoke no_curl"
      ;;
    cacert) CACERT=$2 ;;
    cert)
      CERT=$2
      # curl reads --cert as FILE:PASSWORD: a colon of the file name is escaped.
      CURL_CERT=$(printf '%s' "$2" | sed 's/:/\\:/g')
      ;;
    key) KEY=$2 ;;
    auth) AUTH=$2 ;;
    user) USERPASS=$2 ;;
    lease)
      case $2 in
        *[!0-9]*) say "error bad_lease $2" ;;
        *) LEASE=$2 ;;
      esac
      ;;
  esac
}

arm() {
  case "$1:$2" in
    *[!0-9:]*|:*|*:) say "error bad_arm $1 $2"; return 0 ;;
  esac
  if ! same_proc "$1" "$2"; then say "error not_running $1 $2"; return 0; fi
  PM=$1
  PM_START=$2
  now
  LAST=$NOW
  KA_AT=$NOW
  ARMED=1
  say "armed $PM $PM_START"
}

# The fence fires when NOW - LAST reaches T_CS, so a deadline VALID from now is LAST = NOW + VALID - T_CS.
keepalive_for() {
  case $1 in
    ''|*[!0-9]*) say "error bad_keepalive $1"; return 0 ;;
  esac
  now
  KA_AT=$NOW
  LAST=$(( NOW + ($1 + 9) / 10 - T_CS ))
}

main_loop() {
  while IFS= read -r _cmd; do
    case $_cmd in
      t)
        if [ "$ARMED" = 1 ]; then
          now
          if [ $(( NOW - LAST )) -ge "$T_CS" ]; then fence timeout; fi
        fi
        ;;
      'c ka') now; LAST=$NOW; KA_AT=$NOW ;;
      'c ka '*) keepalive_for "${_cmd#c ka }" ;;
      'c arm '*) arm ${_cmd#c arm } ;;
      'c disarm') ARMED=0; say disarmed ;;
      'c exit') ARMED=0; say "bye exit"; exit 0 ;;
      'c ping') say pong ;;
      'c lease') LEASE= ;;
      'c etcd '*|'c cacert '*|'c cert '*|'c key '*|'c auth '*|'c user '*|'c lease '*)
        _arg=${_cmd#c * }
        _name=${_cmd#c }
        etcd_setting "${_name%% *}" "$_arg"
        ;;
      eof)
        if [ "$ARMED" = 1 ]; then fence agent_gone; fi
        say "bye eof"
        exit 0
        ;;
      c*) say "error unknown_command ${_cmd#c }" ;;
    esac
  done
  # Both feeders are gone (killed by hand): without a clock or a channel the fence is blind.
  if [ "$ARMED" = 1 ]; then fence agent_gone; fi
  say "bye feeders_gone"
  exit 0
}

# One stream of events for a single-threaded loop: the agent's commands ("c ..." then "eof") and
# a clock tick ("t"). Short lines are single atomic pipe writes, so the two never interleave.
{
  (
    while IFS= read -r _l; do printf 'c %s\n' "$_l" || exit 0; done
    echo eof 2>/dev/null
  ) <&3 3<&- &
  (
    while echo t 2>/dev/null; do sleep "$TICK" 2>/dev/null || sleep 1; done
  ) </dev/null 3<&- &
} 3<&0 | {
  say ready
  main_loop
}
