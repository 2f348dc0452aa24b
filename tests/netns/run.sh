#!/usr/bin/env bash
# Three parties on three hosts: each `mpcvm run` in its own network namespace with its
# own address, joined by a bridge in a fourth namespace. First a clean run, whose
# outputs must match `mpcc run`; then a run in which party 2's link goes down after
# about a second: parties 0 and 1 must exit non-zero within the timeout plus a few
# seconds, with an error naming party 2, and print nothing on standard output.
#
# Needs root and `ip netns` (skipped with a message otherwise). Builds nothing: give
# release binaries as MPCC and MPCVM, or build them first (`cargo build --release`) so
# that they are in ${CARGO_TARGET_DIR:-target}/release.
#
#   tests/netns/run.sh            # quiet on success; reports go to standard error
#
# Touches nothing outside its own namespaces (`mpcns-*`), which it always removes.
set -euo pipefail

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    echo "skipped: needs root and ip netns"
    exit 0
fi

repo=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
MPCC=${MPCC:-$target/release/mpcc}
MPCVM=${MPCVM:-$target/release/mpcvm}
for bin in "$MPCC" "$MPCVM"; do
    if [ ! -x "$bin" ]; then
        echo "netns: $bin not found: run \`cargo build --release\` or set MPCC and MPCVM" >&2
        exit 1
    fi
done

# Names unique to this run, so that two runs on one machine do not collide.
tag=mpcns-$$
bridge_ns=$tag-br
party_ns() { echo "$tag-p$1"; }
work=$(mktemp -d)
TIMEOUT_S=3
# Party 2 is cut off this long after the parties start.
CUT_AFTER_S=1
# A chain of dependent multiplications: one round each, several seconds in all.
MULTIPLICATIONS=${MULTIPLICATIONS:-250000}

cleanup() {
    local pids
    pids=$(jobs -p)
    # Only the parties this script started.
    [ -n "$pids" ] && kill $pids 2>/dev/null || true
    for i in 0 1 2; do ip netns del "$(party_ns $i)" 2>/dev/null || true; done
    ip netns del "$bridge_ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Milliseconds since the epoch, and a duration in milliseconds as seconds.
now_ms() { date +%s%3N; }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
log() { echo "netns: $*" >&2; }
fail() {
    log "FAILED: $*"
    exit 1
}

if ! ip netns add "$bridge_ns" 2>/dev/null; then
    echo "skipped: needs root and ip netns"
    exit 0
fi
ip -n "$bridge_ns" link add br0 type bridge
ip -n "$bridge_ns" link set br0 up
for i in 0 1 2; do
    ns=$(party_ns $i)
    ip netns add "$ns"
    # veth pair: `eth0` in the party's namespace, `p$i` on the bridge.
    ip link add "$tag-$i" netns "$ns" type veth peer name "p$i" netns "$bridge_ns"
    ip -n "$ns" link set "$tag-$i" name eth0
    ip -n "$ns" addr add "10.77.0.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$bridge_ns" link set "p$i" master br0
    ip -n "$bridge_ns" link set "p$i" up
done

cat >"$work/parties.toml" <<EOF
tls = false
connect_timeout_s = 10
timeout_s = $TIMEOUT_S
[[party]]
address = "10.77.0.1:7000"
[[party]]
address = "10.77.0.2:7000"
[[party]]
address = "10.77.0.3:7000"
EOF

{
    echo "x = input(sint, party=0)"
    echo "y = input(sint, party=1)"
    echo "z = input(sint, party=2)"
    echo "for i in range($MULTIPLICATIONS):"
    echo "    x = x * y + z"
    echo "output(x, name=\"x\")"
} >"$work/chain.mpc"
echo '{"0": [3], "1": [5], "2": [7]}' >"$work/inputs.json"
echo '[3]' >"$work/in0.json"
echo '[5]' >"$work/in1.json"
echo '[7]' >"$work/in2.json"
"$MPCC" build "$work/chain.mpc" -o "$work/chain.mpcb"
expected=$("$MPCC" run "$work/chain.mpc" --inputs "$work/inputs.json" --protocol clear |
    sed -n 's/^party 0: //p')

# Starts party $1 in its namespace; standard output and error go to files.
start_party() {
    ip netns exec "$(party_ns "$1")" "$MPCVM" run "$work/chain.mpcb" --party "$1" \
        --config "$work/parties.toml" --input "$work/in$1.json" \
        >"$work/out$1" 2>"$work/err$1" &
    pids[$1]=$!
}

# --- A clean run: every party prints the expected output.
declare -a pids status elapsed
start=$(now_ms)
for i in 0 1 2; do start_party $i; done
for i in 0 1 2; do
    wait "${pids[$i]}" || fail "party $i failed in the clean run: $(cat "$work/err$i")"
done
clean_ms=$(($(now_ms) - start))
for i in 0 1 2; do
    [ "$(cat "$work/out$i")" = "$expected" ] ||
        fail "party $i printed '$(cat "$work/out$i")', expected '$expected'"
done
log "clean run: $(secs $clean_ms) s, every party printed: $expected"
if [ "$clean_ms" -lt $(((CUT_AFTER_S + 1) * 1000)) ]; then
    fail "the clean run took only $(secs $clean_ms) s: raise MULTIPLICATIONS so the cut lands mid-run"
fi

# --- Party 2's link goes down mid-run.
start=$(now_ms)
for i in 0 1 2; do start_party $i; done
sleep "$CUT_AFTER_S"
ip -n "$(party_ns 2)" link set eth0 down
log "party 2's link is down after ${CUT_AFTER_S} s"
for i in 0 1; do
    set +e
    wait "${pids[$i]}"
    status[$i]=$?
    set -e
    elapsed[$i]=$(($(now_ms) - start))
done
# Party 2 is on its own now; it fails too (naming a peer it lost), but that is not what
# this test is about.
set +e
wait "${pids[2]}"
status[2]=$?
set -e
limit=$((CUT_AFTER_S + TIMEOUT_S + 5))
for i in 0 1; do
    log "party $i: exit status ${status[$i]} after $(secs "${elapsed[$i]}") s; stderr: $(cat "$work/err$i")"
    [ "${status[$i]}" != 0 ] || fail "party $i succeeded although party 2 was cut off"
    [ "${elapsed[$i]}" -lt $((limit * 1000)) ] ||
        fail "party $i took $(secs "${elapsed[$i]}") s to give up (limit $limit s)"
    [ ! -s "$work/out$i" ] || fail "party $i printed on standard output: $(cat "$work/out$i")"
    grep -q "party 2" "$work/err$i" || fail "party $i's error does not name party 2"
done
log "party 2: exit status ${status[2]}; stderr: $(cat "$work/err2")"
