#!/usr/bin/env bash
# Power-loss test: no acknowledged append is lost to a power cut, not only to SIGKILL.
#
# LazyFS (../shared/powerloss) keeps every written byte in its own cache until fsync/fdatasync and
# drops all unsynced bytes on `crash`. A writer (`custody append --json - --each`) appends one
# record at a time and prints each receipt when the append returns (after its fdatasync). The
# receipts are kept OFF the mount: they are what was promised. After each simulated power cut the
# ledger is reopened (quarantining any torn tail), verified, and every receipt printed in any round
# must be in it with the same entry hash. Needs root and /dev/fuse; skips (exit 0, says so) if not.
#
#   tests/powerloss/run.sh [ROUNDS]        (default 10; CUSTODY_BIN picks the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-10}
PL=$(cd .. && pwd)/shared/powerloss/powerloss.sh
if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ] || [ ! -f "$PL" ]; then
  echo "powerloss: SKIPPED (needs root, /dev/fuse and ../shared/powerloss)"; exit 0
fi
BIN=${CUSTODY_BIN:-target/debug/custody}
[ -x "$BIN" ] || cargo build --quiet
BIN=$(realpath "$BIN")
MNT=/tmp/custody-powerloss-$$
WORK=$(mktemp -d)
cleanup() { bash "$PL" umount "$MNT" >/dev/null 2>&1 || true; rm -rf "$MNT" "$MNT.backing" "$MNT.lazyfs" "$WORK"; }
trap cleanup EXIT
bash "$PL" setup >/dev/null
bash "$PL" mount "$MNT" >/dev/null
"$BIN" keygen --out "$WORK/k.key" >/dev/null
"$BIN" init --ledger "$MNT/ledger" --key "$WORK/k.key" --name powerloss >/dev/null
ACKS="$WORK/acks.jsonl"; : > "$ACKS"
gen() { # endless JSON Lines of realistic records
  python3 -c '
import json, itertools, sys
for i in itertools.count():
    r = {"incident": "INC-PL-%d" % (i % 7), "action": "rotate",
         "actor": {"id": "soar-playbook", "kind": "service"},
         "target": {"id": "svc-%d@corp.example" % i, "kind": "service_account", "system": "aws-iam"},
         "approval": {"none": "automated containment"}, "reason": "rotate exposed key %d" % i,
         "outcome": {"status": "success"}}
    try:
        print(json.dumps(r), flush=True)
    except BrokenPipeError:
        sys.exit(0)
'
}
lost_total=0
for round in $(seq 1 "$ROUNDS"); do
  ( gen | "$BIN" append --ledger "$MNT/ledger" --key "$WORK/k.key" --json - --each >> "$ACKS" 2>"$WORK/writer.err" ) 2>/dev/null &
  sleep "$(python3 -c "import random; print(round(random.uniform(0.3, 1.5), 2))")"
  WPID=$(pgrep -f "append --ledger $MNT/ledger" | head -1 || true)
  bash "$PL" crash "$MNT" ${WPID:-} >/dev/null
  { wait; } 2>/dev/null || true
  # Reopen (quarantines a torn tail), then every receipt ever printed must be in the ledger.
  if ! "$BIN" head --ledger "$MNT/ledger" >/dev/null 2>"$WORK/open.err"; then
    echo "powerloss: FAILED: round $round: the ledger does not open after the power cut:"; cat "$WORK/open.err"; exit 1
  fi
  # sled may lose its own files to the cut (it holds only derived data): say when the index was
  # thrown away and rebuilt.
  grep -h "could not be used" "$WORK/open.err" | sed "s/^/powerloss: round $round: /" || true
  if ! "$BIN" log --ledger "$MNT/ledger" --json > "$WORK/log.jsonl" 2>"$WORK/open.err"; then
    echo "powerloss: FAILED: round $round: the ledger cannot be read after the power cut:"; cat "$WORK/open.err"; exit 1
  fi
  lost=$(python3 - "$ACKS" "$WORK/log.jsonl" <<'PY'
import json, sys
have = {}
for line in open(sys.argv[2]):
    e = json.loads(line); have[e["seq"]] = e["entry_hash"]
lost = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line: continue
    try: r = json.loads(line)
    except ValueError: continue  # a receipt line cut by the kill was never received whole
    if have.get(r["seq"]) != r["entry_hash"]: lost += 1
print(lost)
PY
)
  # The index is derived, but what it answers must match the log: look up the targets of a few
  # entries (target postings live in run files, written at snapshots) and compare.
  if ! python3 - "$BIN" "$MNT/ledger" "$WORK/log.jsonl" <<'PY'
import json, random, subprocess, sys
bin_, ledger, log = sys.argv[1:4]
by_target = {}
for line in open(log):
    e = json.loads(line)
    t = (e.get("record") or {}).get("target", {}).get("id")
    if t:
        by_target.setdefault(t, set()).add(e["seq"])
for t in random.sample(sorted(by_target), min(5, len(by_target))):
    out = subprocess.run([bin_, "log", "--ledger", ledger, "--target", t, "--json"], capture_output=True, text=True)
    got = {json.loads(l)["seq"] for l in out.stdout.splitlines() if l.strip()}
    if out.returncode != 0 or got != by_target[t]:
        print(f"target {t}: index says {sorted(got)}, the log {sorted(by_target[t])}: {out.stderr}")
        sys.exit(1)
PY
  then
    echo "powerloss: FAILED: round $round: the index disagrees with the log after the power cut"; exit 1
  fi
  if ! "$BIN" verify --ledger "$MNT/ledger" >"$WORK/verify.out" 2>&1; then
    echo "powerloss: round $round: ledger does not verify after the power cut"; cat "$WORK/verify.out"; exit 1
  fi
  acked=$(grep -c . "$ACKS" || true)
  echo "powerloss: round $round: $acked receipts so far, $lost lost"
  lost_total=$((lost_total + lost))
done
acked=$(grep -c . "$ACKS" || true)
if [ "$lost_total" != 0 ]; then echo "powerloss: FAILED: $lost_total acknowledged appends lost"; exit 1; fi
if [ "$acked" -lt "$ROUNDS" ]; then echo "powerloss: FAILED: only $acked appends acknowledged; the test did not exercise the writer"; exit 1; fi
echo "powerloss: $ROUNDS power cuts, $acked acknowledged appends, 0 lost"
