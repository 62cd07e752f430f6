#!/bin/sh
# sched-params.sh: a domain's scheduler parameters in the lab, for the
# scenarios' sched_check (tests/lab/scenarios.sh, run_op): what a domain
# runs with before a migration at the source must be what it runs with
# after it, at the destination, or at the source after a failed one; the
# convergence ladder's throttle (libmig/backend/xen/throttle.c) changes the
# cap while the guest runs and must leave no trace.
#
#   sched-params.sh record DOMAIN
#       prints SCHEDULER:WEIGHT:CAP (credit2:256:0) of DOMAIN, as
#       `xl sched-credit -d` or `xl sched-credit2 -d` prints them, under
#       the scheduler `xl info` names (the lab's Xen 4.17 runs credit2,
#       Debian's CONFIG_SCHED_DEFAULT); under a scheduler without weight
#       and cap only its name.  Exit 1, nothing on stdout and xl's words on
#       stderr, when they cannot be read.
#   sched-params.sh compare WHERE BEFORE AFTER
#       exit 0 when the two records are the same; else 1 with one line on
#       stdout that quotes both and says WHERE the second was taken (an
#       empty record: one that could not be read, which the line says).
#
# Busybox sh (dom0) and dash alike; every xl call is bounded.
usage() {
    echo "usage: sched-params.sh record DOMAIN | compare WHERE BEFORE AFTER" >&2
    exit 2
}

record() {  # DOMAIN
    info=$(timeout 20 xl info 2>&1) || {
        echo "xl info failed: $(echo "$info" | tail -n 1)" >&2
        return 1
    }
    sched=$(echo "$info" | sed -n 's/^xen_scheduler *: *\([a-z0-9_]*\).*/\1/p')
    if [ -z "$sched" ]; then
        echo "xl info names no xen_scheduler" >&2
        return 1
    fi
    case "$sched" in
    credit|credit2) ;;
    *) echo "$sched"; return 0 ;;      # no weight, no cap: nothing to compare
    esac
    # "Name ID Weight Cap", then the domain's line (xl_sched.c)
    out=$(timeout 20 xl "sched-$sched" -d "$1" 2>&1) || {
        echo "xl sched-$sched -d $1 failed: $(echo "$out" | tail -n 1)" >&2
        return 1
    }
    params=$(echo "$out" | awk -v want="$1" '
        $1 == "Name" && $2 == "ID" { header = 1; next }
        header && $1 == want && $3 ~ /^[0-9]+$/ && $4 ~ /^[0-9]+$/ { print $3 ":" $4; exit }')
    if [ -z "$params" ]; then
        echo "xl sched-$sched -d $1 printed no weight and cap of $1: '$(echo "$out" | tr '\n' '|')'" >&2
        return 1
    fi
    echo "$sched:$params"
}

compare() {  # WHERE BEFORE AFTER
    if [ -z "$2" ]; then
        echo "scheduler parameters could not be read before the migration at the source (see above), so none to compare $1"
        return 1
    fi
    if [ -z "$3" ]; then
        echo "scheduler parameters could not be read $1 (see above); before the migration at the source (scheduler:weight:cap): $2"
        return 1
    fi
    [ "$2" = "$3" ] && return 0
    echo "scheduler parameters (scheduler:weight:cap) changed: $2 before the migration at the source, $3 $1"
    return 1
}

case "${1:-}" in
record) [ $# = 2 ] || usage; record "$2" ;;
compare) [ $# = 4 ] || usage; compare "$2" "$3" "$4" ;;
*) usage ;;
esac
