#!/usr/bin/env bash
# CI: run the workflow on a real one-node SLURM cluster (issue 7).
#
# Installs Debian's slurm-wlm and munge, starts munged, slurmctld and slurmd
# on 127.0.0.1 under a temporary folder, then:
#   1. runs the workflow locally on N real lichen sheets (the reference) and,
#      at the same time, through `--executor slurm` with profiles/slurm on
#      the same sheets; cancels one job with scancel while it runs, checks the
#      records already written are whole and that a dry-run plans exactly the
#      missing ones;
#   2. reruns through SLURM, checks that no finished record was redone, and
#      that occurrence.csv equals the local run's byte for byte;
#   3. starts the fake OpenAI-compatible provider (tests/fake_provider) on a
#      free 127.0.0.1 port and runs the same sheets with `engine: openai`,
#      locally and through SLURM (preparation on the cluster, extraction on
#      this host, the default), then with `api_on_cluster: true` (extraction
#      in SLURM jobs too, the rate gate in the redis-server .ci/with-redis.sh
#      starts on 127.0.0.1); each
#      must give all records ok, the local run's occurrence.csv, one chat
#      request per specimen and none on a rerun.
# Every snakemake call runs under `timeout -k 10`; the daemons and the fake
# provider are stopped by PID and /etc/slurm/slurm.conf is removed in the
# EXIT trap.
#
# Environment: PY (python with snakemake and the slurm plugin; default
# .venv/bin/python), HERBARIUM_SHARED_DATA (default ../shared/data),
# SLURM_CI_SHEETS (default 10), SLURM_CI_KEEP=1 keeps the temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PY:-$REPO/.venv/bin/python}
SHARED=${HERBARIUM_SHARED_DATA:-$REPO/../shared/data}
LICHENS=$SHARED/aocr/lichens
SHEETS=${SLURM_CI_SHEETS:-10}
# Two specimens per group job: enough jobs to cancel one mid-run, few enough
# submissions to stay fast.
GROUP_SIZE=2
CONF_LINK=/etc/slurm/slurm.conf
STARTED=$(date +%s)
# Jobs, local and in SLURM (sbatch passes the environment on), import this
# checkout's package, whichever copy $PY has installed.
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"

say() { echo "slurm-ci: $*"; }
PASSED=0
FAILED=0
SKIPPED=0
check() {
  PASSED=$((PASSED + 1))
  say "ok: $*"
}
skip() {
  SKIPPED=1
  say "SKIPPED: $*"
  exit 0
}
fail() {
  FAILED=1
  say "FAILED: $*" >&2
  exit 1
}

# --- can this machine run it? ------------------------------------------------
[ -d "$LICHENS/images" ] || skip "$LICHENS/images is absent (set HERBARIUM_SHARED_DATA)"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  skip "installing slurm-wlm and munge needs root and apt-get; this machine has neither"
fi
[ -x "$PY" ] || fail "$PY not found; run 'make install' first or set PY"

# --- install ----------------------------------------------------------------
install_packages() {
  local missing=()
  command -v slurmctld >/dev/null || missing+=(slurm-wlm)
  command -v munged >/dev/null || missing+=(munge)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=120 -y -qq --no-install-recommends)
  if ! "${apt[@]}" install "${missing[@]}" >/tmp/slurm-ci-apt.log 2>&1; then
    # A fresh machine may have no package lists yet.
    apt-get -o DPkg::Lock::Timeout=120 -qq update >>/tmp/slurm-ci-apt.log 2>&1 ||
      skip "apt-get update failed: this machine cannot install packages (see /tmp/slurm-ci-apt.log)"
    "${apt[@]}" install "${missing[@]}" >>/tmp/slurm-ci-apt.log 2>&1 ||
      skip "apt-get install ${missing[*]} failed: this machine cannot install packages (see /tmp/slurm-ci-apt.log)"
  fi
}
install_packages
if ! "$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
  say "installing the optional dependency group [slurm] into $PY"
  "$PY" -m pip install --quiet -e "$REPO[slurm]"
fi

# --- start a one-node cluster ------------------------------------------------
TMP=$(mktemp -d /tmp/herbarium-slurm.XXXXXX)
chmod 755 "$TMP"
PIDFILES=()
OWN_LINK=0

cleanup() {
  local status=$?
  set +e
  # squeue can only run while slurmctld does; cancel leftovers first.
  if [ -n "${SLURM_CONF:-}" ]; then
    timeout 10 scancel --user=root >/dev/null 2>&1
  fi
  for pidfile in "${PIDFILES[@]}"; do
    if [ -s "$pidfile" ]; then
      local pid
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null
    fi
  done
  # A job process that outlived its job would hold files in $TMP: stop any
  # process whose working folder is in it (ours alone), by PID.
  for proc in /proc/[0-9]*; do
    case "$(readlink "$proc/cwd" 2>/dev/null)" in
      "$TMP"/*)
        say "stopping leftover job process ${proc#/proc/}"
        kill -9 "${proc#/proc/}" 2>/dev/null
        ;;
    esac
  done
  if [ "$OWN_LINK" = 1 ] && [ "$(readlink "$CONF_LINK")" = "$TMP/slurm.conf" ]; then
    rm -f "$CONF_LINK"
  fi
  if [ "$status" != 0 ]; then
    for log in "$TMP"/slurmctld.log "$TMP"/slurmd.log; do
      [ -f "$log" ] && { echo "--- tail of $log"; tail -n 20 "$log"; }
    done
  fi
  if [ "${SLURM_CI_KEEP:-0}" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
  say "wall time $(($(date +%s) - STARTED)) s (exit $status)"
  # The closing line CI reads, as a test runner's.
  echo "slurm-ci: $PASSED passed, $FAILED failed, $SKIPPED skipped"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ -e "$CONF_LINK" ] || [ -L "$CONF_LINK" ]; then
  if [ -L "$CONF_LINK" ] && [ ! -e "$CONF_LINK" ]; then
    say "removing a dangling $CONF_LINK left by an earlier run"
    rm -f "$CONF_LINK"
  else
    fail "$CONF_LINK exists (another cluster on this machine?); remove it or stop that cluster"
  fi
fi

HOST=$(hostname -s)
# Three quarters of the machine's memory, at most 16 GB.
NODE_MB=$(awk '/MemTotal/ { m = int($2 / 1024 * 3 / 4); print (m > 16000 ? 16000 : m) }' /proc/meminfo)
MUNGE_SOCKET=$TMP/munge/munge.socket
mkdir -p "$TMP/munge" "$TMP/state" "$TMP/spool"
chown munge:munge "$TMP/munge"
chmod 755 "$TMP/munge"
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
runuser -u munge -- munged --socket="$MUNGE_SOCKET" \
  --pid-file="$TMP/munge/munged.pid" --log-file="$TMP/munge/munged.log" \
  --seed-file="$TMP/munge/munged.seed"
PIDFILES+=("$TMP/munge/munged.pid")

cat >"$TMP/slurm.conf" <<EOF
# One node on 127.0.0.1, made by .ci/slurm.sh; see shared/notes/slurm-single-node.md.
ClusterName=herbariumci
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/slurmctld.log
SlurmdLogFile=$TMP/slurmd.log
# pgid, not linuxproc: with linuxproc the snakemake process of a cancelled
# group job was reparented to init, escaped the kill and hung on.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
MailProg=/bin/true
ReturnToService=2
# squeue must still list finished jobs when the executor asks (no accounting).
MinJobAge=600
# Memory as on a small compute node, so profiles/slurm's requests fit.
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$NODE_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$TMP/slurm.conf
# Job steps lose SLURM_CONF (trap 1 in the notes): they read /etc/slurm.
ln -s "$TMP/slurm.conf" "$CONF_LINK"
OWN_LINK=1

slurmctld -f "$SLURM_CONF"
PIDFILES+=("$TMP/slurmctld.pid")
slurmd -f "$SLURM_CONF" -N "$HOST"
PIDFILES+=("$TMP/slurmd.pid")
for _ in $(seq 100); do
  state=$(sinfo -h -N -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "the node did not become idle (state '$state')"
timeout -k 5 30 srun -N1 hostname >/dev/null || fail "srun hostname failed"
check "cluster up after $(($(date +%s) - STARTED)) s: $(sinfo -h -o '%P %D %c cpus %m MB %t')"

# --- the workflow, locally and through SLURM ----------------------------------
copy_workflow() {
  mkdir -p "$1"
  cp -r Snakefile rules scripts config profiles envs "$1/"
}
# No truth: evaluation is not what this run compares. OCR gets 1000 px
# instead of 2800 (the sheets are about 1600 px wide): it is most of the CPU
# time here, and both runs use the same settings, so the comparison holds.
printf 'offline:\n  max_edge: 1000\n' >"$TMP/ci.yaml"
CONFIG=(--configfile "$TMP/ci.yaml" --config "images=$LICHENS/images" "limit=$SHEETS" "truth=")
RUN=offline-rapidocr-parser-v1
SLURM_COMMON=(
  --profile profiles/slurm
  # No accounting daemon here: sacct cannot answer, squeue can (trap 2).
  --slurm-status-command squeue
  --slurm-init-seconds-before-status-checks 2
  --seconds-between-status-checks 5
  --slurm-no-account
)
SLURM_ARGS=("${SLURM_COMMON[@]}" --group-components "specimen=$GROUP_SIZE")

copy_workflow "$TMP/local"
copy_workflow "$TMP/cluster"

# The local reference run goes on beside the cluster run: it fills the
# cluster run's idle gaps (submission, status checks, job start-up).
t_local=$(date +%s)
(cd "$TMP/local" && exec timeout -k 10 360 "$PY" -m snakemake --cores 2 \
  "${CONFIG[@]}" >"$TMP/local.log" 2>&1) &
local_run=$!

submissions() { grep -c "_slurm_rpc_submit_batch_job: JobId=" "$TMP/slurmctld.log" || true; }

# Start the cluster run, cancel one group job once it runs, let the rest end.
t0=$(date +%s)
records=$TMP/cluster/results/specimens/$RUN
(cd "$TMP/cluster" && exec timeout -k 10 360 "$PY" -m snakemake "${SLURM_ARGS[@]}" \
  "${CONFIG[@]}" >"$TMP/cluster-1.log" 2>&1) &
first_run=$!
victim=""
for _ in $(seq 1200); do
  # Wait for one finished record, so the kill lands mid-run.
  if compgen -G "$records/*.json" >/dev/null; then
    victim=$(squeue -h -t RUNNING -o %i | head -n 1)
    [ -n "$victim" ] && break
  fi
  kill -0 "$first_run" 2>/dev/null || break
  sleep 0.1
done
[ -n "$victim" ] || { tail -n 30 "$TMP/cluster-1.log"; fail "no running job to cancel"; }
# Records are written atomically: every one that exists now is finished, and
# must survive the cancellation, even those of the cancelled group job.
at_cancel=$(find "$records" -name '*.json' | sort)
scancel "$victim"
say "scancel $victim ($(squeue -h -j "$victim" -o %j 2>/dev/null || echo gone))"
status=0
wait "$first_run" || status=$?
case $status in
  0) fail "the run went on as if nothing happened although job $victim was cancelled" ;;
  124 | 137) tail -n 30 "$TMP/cluster-1.log"; fail "the cluster run timed out" ;;
esac
[ -z "$(squeue -h -o %i)" ] || fail "jobs are still queued after snakemake ended: $(squeue -h -o %i)"
check "the cancelled job failed the run: $(($(date +%s) - t0)) s, $(submissions) sbatch submissions"
wait "$local_run" || { tail -n 30 "$TMP/local.log"; fail "the local run failed"; }
say "local run (beside it): $SHEETS sheets in $(($(date +%s) - t_local)) s"

done_before=$(find "$records" -name '*.json' | sort)
n_before=$(echo "$done_before" | grep -c . || true)
[ "$n_before" -lt "$SHEETS" ] || fail "all $SHEETS records exist although a job was cancelled"
say "$n_before of $SHEETS records written before the rerun"
for record in $done_before; do
  "$PY" -c "import json, sys; json.load(open(sys.argv[1]))" "$record" ||
    fail "$record is not a whole JSON record"
done
check "the $n_before records written are whole JSON"
for record in $at_cancel; do
  [ -f "$record" ] || fail "$record, finished before scancel, was deleted"
done
check "the $(echo "$at_cancel" | grep -c .) records finished before scancel were kept"
stat -c '%n %i %Y' $done_before >"$TMP/before.stat"

# A dry-run must plan exactly the missing specimens.
(cd "$TMP/cluster" && timeout -k 10 120 "$PY" -m snakemake "${SLURM_ARGS[@]}" \
  "${CONFIG[@]}" --dry-run >"$TMP/dry-run.log" 2>&1) ||
  { tail -n 30 "$TMP/dry-run.log"; fail "the dry-run failed"; }
# The job table is printed twice; the first is the plan.
planned=$(awk '$1 == "extract_specimen" { print $2; exit }' "$TMP/dry-run.log")
[ "$planned" = $((SHEETS - n_before)) ] ||
  fail "the dry-run plans ${planned:-0} extractions; $((SHEETS - n_before)) are missing"
check "the dry-run plans exactly the $planned missing extractions"

t0=$(date +%s)
submitted=$(submissions)
(cd "$TMP/cluster" && timeout -k 10 300 "$PY" -m snakemake "${SLURM_ARGS[@]}" \
  "${CONFIG[@]}" >"$TMP/cluster-2.log" 2>&1) ||
  { tail -n 30 "$TMP/cluster-2.log"; fail "the rerun failed"; }
check "rerun: $(($(date +%s) - t0)) s, $(($(submissions) - submitted)) sbatch submissions"

n_after=$(find "$records" -name '*.json' | grep -c .)
[ "$n_after" = "$SHEETS" ] || fail "$n_after of $SHEETS records after the rerun"
stat -c '%n %i %Y' $done_before | diff "$TMP/before.stat" - >/dev/null ||
  fail "the rerun rewrote records that were already finished"
check "all $SHEETS records exist; the $n_before finished before were not rewritten"
cmp "$TMP/local/results/occurrence.csv" "$TMP/cluster/results/occurrence.csv" ||
  fail "occurrence.csv from SLURM differs from the local run's"
check "occurrence.csv of $SHEETS sheets through SLURM equals the local run's"

# --- the API engine against the fake provider ----------------------------------
# One server for every API run; each run sends its own (fake) key, so the
# request log tells the runs apart even when two run at once.
API_RUN=openai-fake-vision-1-dwc-v1
FAKE_LOG=$TMP/fake-provider.jsonl
KEY_ENV=HERBARIUM_CI_API_KEY
(exec timeout -k 5 900 "$PY" -m tests.fake_provider --images "$LICHENS/images" \
  --truth "$LICHENS" --limit "$SHEETS" --url-file "$TMP/fake.url" --log "$FAKE_LOG" \
  --key-label sk-test-ci-local=local --key-label sk-test-ci-cluster=cluster \
  --key-label sk-test-ci-oncluster=oncluster >"$TMP/fake-provider.out" 2>&1) &
echo $! >"$TMP/fake-provider.pid"
PIDFILES+=("$TMP/fake-provider.pid")
for _ in $(seq 150); do [ -s "$TMP/fake.url" ] && break; sleep 0.2; done
[ -s "$TMP/fake.url" ] || { cat "$TMP/fake-provider.out"; fail "the fake provider did not start"; }
cat >"$TMP/api.yaml" <<EOF
engine: openai
openai:
  base_url: $(cat "$TMP/fake.url")
  api_key_env: $KEY_ENV
  model: fake/vision-1
  rpm: null
  timeout_s: 30
  concurrency: 2
EOF
API_CONFIG=(--configfile "$TMP/api.yaml" --config "images=$LICHENS/images" "limit=$SHEETS" "truth=")

# The api_on_cluster run keeps its gate in Redis, as a cluster whose API jobs
# run on several nodes must (openai.gate: redis://): the redis-server that
# .ci/with-redis.sh starts on 127.0.0.1 (.ci/run runs this script under it).
# Without it (run alone, or redis-server not installable) or without the
# Python client, that run uses the SQLite gate and says so.
cp "$TMP/api.yaml" "$TMP/api-oncluster.yaml"
REDIS_GATE=""
if [ -n "${HERBARIUM_REDIS_URL:-}" ] && "$PY" -c "import redis" 2>/dev/null; then
  REDIS_GATE=$HERBARIUM_REDIS_URL
  echo "  gate: $REDIS_GATE" >>"$TMP/api-oncluster.yaml"
  check "redis-server on $REDIS_GATE for the api_on_cluster run's gate"
else
  say "note: no HERBARIUM_REDIS_URL (run under .ci/with-redis.sh) or no redis client in $PY; the api_on_cluster run uses the SQLite gate"
fi
ONCLUSTER_CONFIG=("${API_CONFIG[@]}")
ONCLUSTER_CONFIG[1]=$TMP/api-oncluster.yaml
# Nothing is cancelled here, so bigger groups: each SLURM job costs about
# 13 s of Snakemake start-up on this node. --cores 1 makes a group job ask one
# CPU (never more than the node has, trap 3), so two group jobs run at once
# and the api_on_cluster run's extraction jobs meet at the connectivity
# check's lock and the gate.
API_SLURM_ARGS=("${SLURM_COMMON[@]}" --group-components specimen=5 --cores 1)

# The two API runs through SLURM side by side (extraction on this host, and
# in SLURM jobs with the Redis gate), each with its own fake key so the
# provider's log tells them apart: api_slurm_runs TIMEOUT LOG LOG_ONCLUSTER
api_slurm_runs() {
  local limit=$1 log=$2 log_oncluster=$3 oncluster
  (cd "$TMP/api-oncluster" && exec env "$KEY_ENV=sk-test-ci-oncluster" timeout -k 10 "$limit" \
    "$PY" -m snakemake "${API_SLURM_ARGS[@]}" "${ONCLUSTER_CONFIG[@]}" api_on_cluster=True \
    >"$TMP/$log_oncluster" 2>&1) &
  oncluster=$!
  (cd "$TMP/api-cluster" && exec env "$KEY_ENV=sk-test-ci-cluster" timeout -k 10 "$limit" \
    "$PY" -m snakemake "${API_SLURM_ARGS[@]}" "${API_CONFIG[@]}" >"$TMP/$log" 2>&1) ||
    { tail -n 30 "$TMP/$log"; fail "the API run through SLURM failed ($log)"; }
  wait "$oncluster" ||
    { tail -n 30 "$TMP/$log_oncluster"; fail "the api_on_cluster run failed ($log_oncluster)"; }
}
check "fake provider on $(cat "$TMP/fake.url") (pid $(cat "$TMP/fake-provider.pid"))"

# Lines in the request log so far: chat requests and connectivity checks.
logged() { if [ -f "$FAKE_LOG" ]; then wc -l <"$FAKE_LOG"; else echo 0; fi; }

# Every record in FOLDER is ok, and the chat requests sent with LABEL's key
# are one answered request per specimen: nothing sent twice.
check_api_run() {
  "$PY" - "$1/results/specimens/$API_RUN" "$FAKE_LOG" "$2" "$SHEETS" <<'EOF'
import collections, json, pathlib, sys
folder, log, label, sheets = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
records = [json.loads(p.read_text()) for p in pathlib.Path(folder).glob("*.json")]
status = collections.Counter(r["status"] for r in records)
entries = [json.loads(line) for line in open(log, encoding="utf-8")]
chats = [e for e in entries if e.get("method") == "POST" and e.get("key") == label]
per_sheet = collections.Counter(e["image"] for e in chats)
unanswered = [e for e in chats if e.get("status") != 200 or e.get("image") is None]
problems = []
if status != {"ok": sheets}:
    problems.append(f"records {dict(status)}, expected {sheets} ok")
if len(per_sheet) != sheets or set(per_sheet.values()) != {1} or unanswered:
    problems.append(f"chat requests per sheet {dict(per_sheet)}, {len(unanswered)} bad")
if problems:
    sys.exit("; ".join(problems))
print(f"{sheets} records ok, {len(chats)} chat requests, one per specimen")
EOF
}

# SLURM jobs of a run's log that carried extract_specimen: the plugin names
# each job's log folder after the rules in it (0: none ran in SLURM).
extract_jobs_in_slurm() {
  grep "submitted with SLURM jobid" "$1" | grep -c "extract_specimen" || true
}

# Three API runs side by side, as the offline runs above, so that one's
# CPU work fills the others' waits for submission and status checks: the
# local reference, extraction on this host (api_on_cluster: false, the
# default), and extraction in SLURM jobs too (api_on_cluster: true, as for
# nodes that reach the provider). The first two keep the gate in SQLite
# under results/; the third in Redis (above). Known gap: this cluster has one
# node, so jobs on several nodes sharing the gate are not covered.
copy_workflow "$TMP/api-local"
copy_workflow "$TMP/api-cluster"
copy_workflow "$TMP/api-oncluster"
t0=$(date +%s)
submitted=$(submissions)
(cd "$TMP/api-local" && exec env "$KEY_ENV=sk-test-ci-local" timeout -k 10 420 \
  "$PY" -m snakemake --cores 2 "${API_CONFIG[@]}" >"$TMP/api-local.log" 2>&1) &
api_local=$!
api_slurm_runs 420 api-cluster.log api-oncluster.log
wait "$api_local" || { tail -n 30 "$TMP/api-local.log"; fail "the local API run failed"; }
say "three API runs side by side: $(($(date +%s) - t0)) s, $(($(submissions) - submitted)) sbatch submissions"

out=$(check_api_run "$TMP/api-local" local) || fail "local API run: $out"
check "local API run: $out"
out=$(check_api_run "$TMP/api-cluster" cluster) || fail "API run through SLURM: $out"
[ "$(extract_jobs_in_slurm "$TMP/api-cluster.log")" = 0 ] ||
  fail "extract_specimen ran in SLURM jobs although api_on_cluster is false"
check "API run through SLURM, extraction on this host: $out"
out=$(check_api_run "$TMP/api-oncluster" oncluster) || fail "api_on_cluster run: $out"
in_slurm=$(extract_jobs_in_slurm "$TMP/api-oncluster.log")
[ "$in_slurm" -gt 0 ] || fail "no SLURM job of the api_on_cluster run carried extract_specimen"
check "API run with extraction in SLURM jobs ($in_slurm): $out"
if [ -n "$REDIS_GATE" ]; then
  [ ! -e "$TMP/api-oncluster/results/gate.sqlite" ] ||
    fail "the api_on_cluster run made a SQLite gate although openai.gate is $REDIS_GATE"
  keys=$(redis-cli -u "$REDIS_GATE" --scan --pattern 'herbarium-dwc:gate:*' | wc -l)
  [ "$keys" -gt 0 ] || fail "the Redis gate at $REDIS_GATE holds nothing after the run"
  check "the api_on_cluster run's jobs shared the gate in Redis ($keys key(s), no SQLite file)"
fi
for run in api-cluster api-oncluster; do
  cmp "$TMP/api-local/results/occurrence.csv" "$TMP/$run/results/occurrence.csv" ||
    fail "occurrence.csv of $run differs from the local API run's"
done
check "occurrence.csv of both API runs through SLURM equals the local run's"
# One host here, and each run starts by forgetting earlier checks: one
# keyless check per run, whether its extraction ran here or in SLURM jobs.
probes=$(grep -c '"method": "GET"' "$FAKE_LOG" || true)
[ "$probes" = 3 ] || fail "$probes connectivity checks for three runs on one host; expected 3"
check "one connectivity check per API run"

# Reruns have nothing to do: no request at all, not even a check.
before=$(logged)
t0=$(date +%s)
api_slurm_runs 180 api-cluster-2.log api-oncluster-2.log
[ "$(logged)" = "$before" ] ||
  fail "the API reruns sent $(($(logged) - before)) requests; expected 0"
check "both API reruns through SLURM sent 0 requests ($(($(date +%s) - t0)) s)"
